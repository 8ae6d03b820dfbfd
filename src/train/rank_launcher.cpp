// nfp/rank_launcher.hpp on POSIX: posix_spawn (safe in a process that already runs libtorch's threads), one pipe
// per rank > 0 for its stderr, a poll loop that relays their lines, reaps the ranks and forwards signals.
#include "nfp/rank_launcher.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <iostream>

#include "nfp/error.hpp"
#include "nfp/free_port.hpp"

extern char** environ;

namespace nfp {
namespace {

volatile sig_atomic_t g_signal = 0;
extern "C" void note_signal(int sig) { g_signal = sig; }

struct Rank {
  int rank = 0;
  pid_t pid = -1;
  int err_fd = -1;            // read end of its stderr (ranks > 0)
  std::string partial, last;  // an unfinished line; the last complete non-empty line
  bool running = true;
};

// Relays complete lines of `r`'s stderr as "[rank r] line" and remembers the last one.
void relay(Rank& r, const char* data, size_t n) {
  r.partial.append(data, n);
  size_t start = 0;
  for (size_t nl; (nl = r.partial.find('\n', start)) != std::string::npos; start = nl + 1) {
    const std::string line = r.partial.substr(start, nl - start);
    std::cerr << "[rank " << r.rank << "] " << line << "\n";
    if (line.find_first_not_of(" \r\t") != std::string::npos) r.last = line;
  }
  r.partial.erase(0, start);
  std::cerr.flush();
}

std::string how_it_ended(int status) {
  if (WIFSIGNALED(status))
    return "was killed by signal " + std::to_string(WTERMSIG(status)) + " (" + strsignal(WTERMSIG(status)) + ")";
  return "exited with code " + std::to_string(WEXITSTATUS(status));
}

int exit_code_of(int status) { return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status); }

// A rank whose collective failed because a peer went away only echoes that peer's failure.
bool echoes_another(const Rank& r, int status) {
  return !WIFSIGNALED(status) && r.last.find(" died, hung or left") != std::string::npos;
}

// Relays what `r`'s stderr pipe holds now (the pipe is non-blocking). At the pipe's end, or when the rank has
// ended (`ended`: a child of the rank that outlived it may hold the pipe open; what it writes later is not waited
// for), the unfinished last line too, and the pipe is closed.
void pump(Rank& r, bool ended) {
  if (r.err_fd < 0) return;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(r.err_fd, buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
    if (n > 0) relay(r, buf, size_t(n));
  if (n < 0 && errno == EAGAIN && !ended) return;  // more may come
  if (!r.partial.empty()) relay(r, "\n", 1);
  ::close(r.err_fd);
  r.err_fd = -1;
}

}  // namespace

LaunchResult launch_ranks(const RankLaunch& l) {
  require(!l.argv.empty(), "launch_ranks: no command");
  require(l.nproc >= 1 && l.nproc <= 1024, "--nproc must be from 1 to 1024, got " + std::to_string(l.nproc));
  require(l.threads_per_rank >= 1, "--nproc: threads per rank must be >= 1");
  int port = l.master_port;
  if (port <= 0) {
    try {
      port = free_tcp_port(l.master_addr);
    } catch (const Error& e) {
      throw Error(std::string("--nproc: ") + e.what() + "; set MASTER_PORT (and MASTER_ADDR) for the ranks' rendezvous");
    }
  }

  std::vector<std::string> base_env;
  for (char** e = environ; *e; ++e) {
    const std::string v = *e;
    const std::string key = v.substr(0, v.find('='));
    if (key != "RANK" && key != "WORLD_SIZE" && key != "LOCAL_RANK" && key != "MASTER_ADDR" && key != "MASTER_PORT" &&
        key != "OMP_NUM_THREADS")
      base_env.push_back(v);
  }
  std::vector<char*> args;
  for (const auto& a : l.argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);

  struct sigaction on{}, old_int{}, old_term{};
  on.sa_handler = note_signal;
  sigemptyset(&on.sa_mask);
  g_signal = 0;
  sigaction(SIGINT, &on, &old_int);
  sigaction(SIGTERM, &on, &old_term);
  const auto restore = [&] {
    sigaction(SIGINT, &old_int, nullptr);
    sigaction(SIGTERM, &old_term, nullptr);
  };

  std::vector<Rank> ranks(size_t(l.nproc));
  const auto signal_all = [&](int sig) {
    for (auto& r : ranks)
      if (r.running && r.pid > 0) ::kill(r.pid, sig);
  };
  for (int i = 0; i < l.nproc; ++i) {
    Rank& r = ranks[size_t(i)];
    r.rank = i;
    std::vector<std::string> env = base_env;
    env.push_back("RANK=" + std::to_string(i));
    env.push_back("WORLD_SIZE=" + std::to_string(l.nproc));
    env.push_back("LOCAL_RANK=" + std::to_string(i));
    env.push_back("MASTER_ADDR=" + l.master_addr);
    env.push_back("MASTER_PORT=" + std::to_string(port));
    env.push_back("OMP_NUM_THREADS=" + std::to_string(l.threads_per_rank));
    std::vector<char*> envp;
    for (auto& v : env) envp.push_back(v.data());
    envp.push_back(nullptr);

    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    int pipe_fds[2] = {-1, -1};
    if (i > 0) {
      require(::pipe2(pipe_fds, O_CLOEXEC) == 0, std::string("--nproc: cannot create a pipe: ") + std::strerror(errno));
      ::fcntl(pipe_fds[0], F_SETFL, O_NONBLOCK);  // this end only: the rank's writes block as usual
      posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
      posix_spawn_file_actions_adddup2(&fa, pipe_fds[1], STDERR_FILENO);
      posix_spawn_file_actions_addclose(&fa, pipe_fds[0]);
      posix_spawn_file_actions_addclose(&fa, pipe_fds[1]);
    }
    // Each rank in its own process group: a terminal's Ctrl-C reaches this launcher only, which forwards it once.
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
    posix_spawnattr_setpgroup(&attr, 0);
    sigset_t defaults, none;
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGINT);
    sigaddset(&defaults, SIGTERM);
    sigemptyset(&none);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawnattr_setsigmask(&attr, &none);
    const int rc = posix_spawn(&r.pid, l.argv[0].c_str(), &fa, &attr, args.data(), envp.data());
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (i > 0) {
      ::close(pipe_fds[1]);
      r.err_fd = pipe_fds[0];
    }
    if (rc != 0) {
      r.running = false;
      if (r.err_fd >= 0) ::close(r.err_fd);
      signal_all(SIGKILL);
      for (auto& o : ranks)
        if (o.running && o.pid > 0) ::waitpid(o.pid, nullptr, 0), ::close(o.err_fd);
      restore();
      throw Error("--nproc: cannot start rank " + std::to_string(i) + " (" + l.argv[0] + ": " + std::strerror(rc) + ")");
    }
  }

  using clock = std::chrono::steady_clock;
  const auto seconds = [](double s) { return std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(s)); };
  LaunchResult result;
  bool stopping = false, user_stop = false, failure_is_echo = false;
  clock::time_point kill_at = clock::time_point::max();
  int running = l.nproc;
  while (running > 0) {
    if (const int sig = g_signal) {  // Ctrl-C / SIGTERM: every rank checkpoints at the same step and exits
      g_signal = 0;
      const bool again = user_stop;
      signal_all(again ? SIGKILL : sig);
      if (!stopping) kill_at = clock::now() + seconds(l.stop_grace_s);
      stopping = true;
      user_stop = result.failed_rank < 0;
    }
    if (clock::now() >= kill_at) {
      signal_all(SIGKILL);
      kill_at = clock::time_point::max();
    }
    std::vector<pollfd> fds;
    std::vector<Rank*> owners;
    for (auto& r : ranks)
      if (r.err_fd >= 0) fds.push_back({r.err_fd, POLLIN, 0}), owners.push_back(&r);
    if (fds.empty()) {
      ::usleep(50000);
    } else if (::poll(fds.data(), fds.size(), 50) > 0) {
      for (size_t k = 0; k < fds.size(); ++k)
        if (fds[k].revents & (POLLIN | POLLHUP | POLLERR)) pump(*owners[k], false);
    }
    // Reap every rank that has ended. A failure that only echoes another's gives way to its cause when both end in
    // one round, before any rank was signalled (a rank ended by the launcher's own signal is no cause).
    const bool signalled = stopping;
    for (auto& r : ranks) {
      if (!r.running) continue;
      int status = 0;
      const pid_t got = ::waitpid(r.pid, &status, WNOHANG);
      if (got == 0 || (got < 0 && errno == EINTR)) continue;
      r.running = false;
      --running;
      pump(r, true);  // its last words, written just before it ended
      const int code = got < 0 ? 0 : exit_code_of(status);
      if (code == 0) continue;
      if (user_stop) {  // the ranks were asked to stop: their own code (130 after a checkpoint)
        if (result.exit_code == 0) result.exit_code = code;
        continue;
      }
      if (result.failed_rank < 0 || (!signalled && failure_is_echo && !echoes_another(r, status))) {
        result.failed_rank = r.rank;
        result.exit_code = code;
        failure_is_echo = echoes_another(r, status);
        result.message = "rank " + std::to_string(r.rank) + " of " + std::to_string(l.nproc) + " " +
                         how_it_ended(status) +
                         (r.last.empty() ? std::string(r.rank == 0 ? " (its error is above)" : "")
                                         : ": " + truncate_for_message(r.last, 300));
      }
      if (!stopping) {  // the others cannot go on without it: stop them, SIGKILL after the grace period
        stopping = true;
        signal_all(SIGTERM);
        kill_at = clock::now() + seconds(l.failure_grace_s);
      }
    }
  }
  restore();
  return result;
}

}  // namespace nfp
