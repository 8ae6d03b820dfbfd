// Runs the built `nfp` binary from a test (NFP_BIN, set by CTest) and reads its output.
#pragma once
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace nfp::test {

// A policy small enough to train 100+ steps in seconds (nfp train --config); checkpoints every 10 steps.
inline constexpr const char* kTinyRunConfig =
    R"({"policy": {"encoder_hidden": 32, "context_dim": 32, "horizon": 8, "head": {"layers": 2, "hidden": 32}},
        "train": {"batch": 32, "checkpoint_every": 10, "validate_every": 10, "log_every": 5}})";

struct NfpRun {
  int status = -1;  // exit code; -1 when the binary is missing
  std::string out;  // stdout and stderr, interleaved
};

// Runs `nfp <args>`; stderr is folded into the output.
inline NfpRun run_nfp(const std::string& args) {
  const char* bin = std::getenv("NFP_BIN");
  NfpRun r;
  if (!bin || !std::filesystem::exists(bin)) return r;
  FILE* p = ::popen((std::string(bin) + " " + args + " 2>&1").c_str(), "r");
  char buf[4096];
  while (size_t n = std::fread(buf, 1, sizeof(buf), p)) r.out.append(buf, n);
  const int st = ::pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
  return r;
}

inline bool nfp_available() { return run_nfp("--version").status == 0; }

// The --json contract: one object on the last line of stdout.
inline nlohmann::json last_line_json(const std::string& out) {
  std::string s = out;
  while (!s.empty() && s.back() == '\n') s.pop_back();
  return nlohmann::json::parse(s.substr(s.rfind('\n') + 1));
}

// A failed command exits non-zero and prints one line naming what was wrong (`mentions`).
inline void expect_one_line_error(const NfpRun& r, const std::string& mentions) {
  EXPECT_NE(r.status, 0) << r.out;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;
  EXPECT_NE(r.out.find(mentions), std::string::npos) << r.out;
}

// Spawns `nfp args...` with its stdout and stderr written to `output` (discarded by default), in the working
// directory `cwd` (default: this one); returns the pid (-1 on failure).
inline pid_t spawn_nfp(const std::vector<std::string>& args, const std::string& output = "/dev/null",
                       const std::string& cwd = "") {
  const char* bin = std::getenv("NFP_BIN");
  if (!bin) return -1;
  std::vector<std::string> argv = {bin};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> cargv;
  for (auto& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, output.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  if (!cwd.empty()) posix_spawn_file_actions_addchdir_np(&fa, cwd.c_str());
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, cargv[0], &fa, nullptr, cargv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  return rc == 0 ? pid : -1;
}

// Runs `nfp train args...` (whose --out is `run`), sends Ctrl-C once its first checkpoint exists, and returns
// the exit status (130 when the run was interrupted and checkpointed; -1 if it could not be started).
inline int train_interrupted_at_first_checkpoint(const std::vector<std::string>& args, const std::filesystem::path& run) {
  const pid_t pid = spawn_nfp(args);
  if (pid <= 0) return -1;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (!std::filesystem::exists(run / "checkpoint" / "train_state.safetensors") &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ::kill(pid, SIGINT);
  int st = 0;
  if (::waitpid(pid, &st, 0) != pid || !WIFEXITED(st)) return -1;
  return WEXITSTATUS(st);
}

}  // namespace nfp::test
