// The local launcher (nfp/rank_launcher.hpp) with shell scripts as ranks: torchrun's variables for each rank, the
// first failing rank's code and last line, the others stopped within the grace period, a signal forwarded to every
// rank (whose own exit code is returned), and a command that cannot start.
#include <gtest/gtest.h>

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "nfp/error.hpp"
#include "nfp/rank_launcher.hpp"

namespace fs = std::filesystem;

namespace nfp {
namespace {

RankLaunch sh(const std::string& script, int nproc) {
  RankLaunch l;
  l.argv = {"/bin/sh", "-c", script};
  l.nproc = nproc;
  l.failure_grace_s = 1;
  l.stop_grace_s = 5;
  return l;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

TEST(RankLauncher, EveryRankGetsTorchrunsVariables) {
  const fs::path dir = fs::temp_directory_path() / ("nfp_launch_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  RankLaunch l = sh("echo $RANK $WORLD_SIZE $LOCAL_RANK $MASTER_ADDR $MASTER_PORT $OMP_NUM_THREADS > " + dir.string() +
                        "/$RANK.env",
                    3);
  l.threads_per_rank = 2;
  const LaunchResult r = launch_ranks(l);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.failed_rank, -1);
  std::string port;
  for (int rank = 0; rank < 3; ++rank) {
    std::ifstream f(dir / (std::to_string(rank) + ".env"));
    std::string rk, world, local, addr, p, threads;
    ASSERT_TRUE(f >> rk >> world >> local >> addr >> p >> threads) << "rank " << rank;
    EXPECT_EQ(rk, std::to_string(rank));
    EXPECT_EQ(world, "3");
    EXPECT_EQ(local, std::to_string(rank));
    EXPECT_EQ(addr, "127.0.0.1");
    EXPECT_GT(std::stoi(p), 0);
    if (rank > 0) {
      EXPECT_EQ(p, port) << "every rank meets at one port";
    }
    port = p;
    EXPECT_EQ(threads, "2");
  }
  fs::remove_all(dir);
}

TEST(RankLauncher, TheFirstFailingRankIsReportedAndTheOthersStopped) {
  // rank 2 fails at once with code 3; ranks 0 and 1 would run for a minute (SIGTERM ends them)
  const auto t0 = std::chrono::steady_clock::now();
  const LaunchResult r = launch_ranks(
      sh("if [ $RANK = 2 ]; then echo 'a warning' >&2; echo 'nfp: error: out of data' >&2; exit 3; fi; exec sleep 60", 3));
  EXPECT_LT(seconds_since(t0), 30.0);
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.failed_rank, 2);
  EXPECT_EQ(r.message, "rank 2 of 3 exited with code 3: nfp: error: out of data");
}

TEST(RankLauncher, ARankThatIgnoresSigtermIsKilledAfterTheGracePeriod) {
  const auto t0 = std::chrono::steady_clock::now();
  const LaunchResult r = launch_ranks(sh("trap '' TERM; if [ $RANK = 1 ]; then kill -9 $$; fi; exec sleep 60", 2));
  EXPECT_LT(seconds_since(t0), 30.0);  // 1 s of grace, not the 60 s of sleep
  EXPECT_EQ(r.failed_rank, 1);
  EXPECT_EQ(r.exit_code, 128 + SIGKILL);
  EXPECT_NE(r.message.find("rank 1 of 2 was killed by signal 9"), std::string::npos) << r.message;
}

TEST(RankLauncher, SigintIsForwardedToEveryRankAndTheirCodeReturned) {
  // each rank exits 130 on SIGINT, as `nfp train` does after its checkpoint; without forwarding they run 60 s
  std::thread interrupt([] {
    std::this_thread::sleep_for(std::chrono::milliseconds(700));
    ::kill(::getpid(), SIGINT);  // the launcher's handler is in place by then; it restores the old one after
  });
  const auto t0 = std::chrono::steady_clock::now();
  const LaunchResult r = launch_ranks(sh("trap 'exit 130' INT; for i in $(seq 600); do sleep 0.1; done", 2));
  interrupt.join();
  EXPECT_LT(seconds_since(t0), 30.0);
  EXPECT_EQ(r.exit_code, 130);
  EXPECT_EQ(r.failed_rank, -1);
}

TEST(RankLauncher, ACommandThatCannotStartIsOneError) {
  RankLaunch l;
  l.argv = {"/nonexistent/nfp", "train"};
  l.nproc = 2;
  try {
    launch_ranks(l);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot start rank 0 (/nonexistent/nfp"), std::string::npos) << e.what();
  }
  l.nproc = 0;
  EXPECT_THROW(launch_ranks(l), Error);
  // no port to pick on a rendezvous address that is not IPv4: said before anything starts
  l = sh("exit 0", 2);
  l.master_addr = "rank0.example";
  try {
    launch_ranks(l);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--nproc: 'rank0.example' is not an IPv4 address; set MASTER_PORT"),
              std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace nfp
