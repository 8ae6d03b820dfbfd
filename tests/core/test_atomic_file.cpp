// Atomic files and staged output directories: a failed run leaves nothing half-written and loses nothing; a
// SIGKILL during a commit never leaves no directory; what killed writes left is cleaned up by the next write.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "nfp/atomic_file.hpp"
#include "nfp/error.hpp"

namespace fs = std::filesystem;

namespace nfp {
namespace {

// This process's test directories are removed when the tests end.
struct RemoveTestDirs {
  ~RemoveTestDirs() {
    std::error_code ec;
    const std::string prefix = "nfp_atomic_" + std::to_string(::getpid()) + "_";
    for (const auto& e : fs::directory_iterator(fs::temp_directory_path(), ec))
      if (e.path().filename().string().rfind(prefix, 0) == 0) fs::remove_all(e.path(), ec);
  }
} remove_test_dirs;

fs::path fresh_dir(const std::string& name) {
  auto d = fs::temp_directory_path() / ("nfp_atomic_" + std::to_string(::getpid()) + "_" + name);
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

size_t entries(const fs::path& d) { return size_t(std::distance(fs::directory_iterator(d), fs::directory_iterator())); }

TEST(AtomicFile, WritesAndReplacesWithoutTemporaries) {
  auto d = fresh_dir("file");
  write_file_atomic(d / "a.txt", "one");
  write_file_atomic(d / "a.txt", "two");
  EXPECT_EQ(read_file(d / "a.txt"), "two");
  EXPECT_EQ(entries(d), 1u);
  EXPECT_THROW(read_file(d / "missing.txt"), Error);
}

TEST(StagedDir, CommitMovesIntoPlaceAndReplacesOld) {
  auto d = fresh_dir("staged");
  {
    StagedDir s(d / "run");
    write_file_atomic(s.path() / "model.txt", "v1");
    EXPECT_FALSE(fs::exists(d / "run"));
    s.commit();
  }
  EXPECT_EQ(read_file(d / "run" / "model.txt"), "v1");
  {
    StagedDir s(d / "run");
    write_file_atomic(s.path() / "model.txt", "v2");
    s.commit();
  }
  EXPECT_EQ(read_file(d / "run" / "model.txt"), "v2");
  EXPECT_EQ(entries(d), 1u);  // no .tmp or .old left behind
}

TEST(StagedDir, FailureLeavesTheExistingDirectoryUntouched) {
  auto d = fresh_dir("fail");
  {
    StagedDir s(d / "run");
    write_file_atomic(s.path() / "model.txt", "good");
    s.commit();
  }
  try {
    StagedDir s(d / "run");
    write_file_atomic(s.path() / "model.txt", "half");
    throw Error("training diverged");
  } catch (const Error&) {
  }
  EXPECT_EQ(read_file(d / "run" / "model.txt"), "good");
  EXPECT_EQ(entries(d), 1u);
}

TEST(StagedDir, RefusesAFileInTheWay) {
  auto d = fresh_dir("file_in_way");
  write_file_atomic(d / "run", "x");
  EXPECT_THROW(StagedDir(d / "run"), Error);
}

// A pid that is certainly not running: a child that has exited and been reaped.
long dead_pid() {
  const pid_t pid = ::fork();
  if (pid == 0) ::_exit(0);
  ::waitpid(pid, nullptr, 0);
  return long(pid);
}

// An entry as a killed process left it: named with a dead pid, written an hour ago (before this process).
void as_left_by_a_killed_run(const fs::path& p) {
  fs::last_write_time(p, fs::file_time_type::clock::now() - std::chrono::hours(1));
}

TEST(StagedDir, TheRenameFallbackCommitsToo) {
  auto d = fresh_dir("fallback");
  ::setenv("NFP_TEST_NO_RENAME_EXCHANGE", "1", 1);
  for (const char* v : {"v1", "v2", "v3"}) {
    StagedDir s(d / "run/");  // a trailing slash names the same directory
    write_file_atomic(s.path() / "model.txt", v);
    s.commit();
  }
  ::unsetenv("NFP_TEST_NO_RENAME_EXCHANGE");
  EXPECT_EQ(read_file(d / "run" / "model.txt"), "v3");
  EXPECT_EQ(entries(d), 1u);
}

// The fallback's window: killed after "run" became "run.old-*" and before ".run.ready-*" became "run". Loads and
// the next StagedDir move the newest complete state back (the ready one, else the old one).
TEST(StagedDir, AKilledCommitIsRecovered) {
  auto d = fresh_dir("recover");
  const std::string pid = std::to_string(dead_pid());
  fs::create_directories(d / ("run.old-" + pid + "-1"));
  write_file_atomic(d / ("run.old-" + pid + "-1") / "model.txt", "old");
  fs::create_directories(d / (".run.ready-" + pid + "-2"));
  write_file_atomic(d / (".run.ready-" + pid + "-2") / "model.txt", "new");
  as_left_by_a_killed_run(d / ("run.old-" + pid + "-1"));
  EXPECT_TRUE(recover_staged_dir(d / "run"));
  EXPECT_EQ(read_file(d / "run" / "model.txt"), "new");
  EXPECT_FALSE(recover_staged_dir(d / "run"));  // nothing to do once it exists
  { StagedDir s(d / "run"); }                   // the next write removes the stale old one
  EXPECT_EQ(entries(d), 1u);
  // Only the previous directory left: it goes back.
  fs::rename(d / "run", d / ("run.old-" + pid + "-3"));
  EXPECT_TRUE(recover_staged_dir(d / "run"));
  EXPECT_EQ(read_file(d / "run" / "model.txt"), "new");
}

// Temporaries of killed writes are removed by the next write of that name; a live process's, or one newer than
// this process, are not (they may be a concurrent writer's).
TEST(AtomicFile, StaleTemporariesAreCleanedUpByTheNextWrite) {
  auto d = fresh_dir("stale");
  const std::string dead = std::to_string(dead_pid()), alive = std::to_string(::getppid());
  for (const std::string& n : {".a.txt.tmp-" + dead + "-1", ".a.txt.tmp-" + alive + "-2", ".a.txt.tmp-" + dead + "-3",
                               ".b.txt.tmp-" + dead + "-4"})
    std::ofstream(d / n) << "partial";
  fs::create_directories(d / (".run.tmp-" + dead + "-5"));
  for (const std::string& n : {".a.txt.tmp-" + dead + "-1", ".a.txt.tmp-" + alive + "-2", ".b.txt.tmp-" + dead + "-4",
                               ".run.tmp-" + dead + "-5"})
    as_left_by_a_killed_run(d / n);
  write_file_atomic(d / "a.txt", "x");
  EXPECT_FALSE(fs::exists(d / (".a.txt.tmp-" + dead + "-1")));  // dead and old: removed
  EXPECT_TRUE(fs::exists(d / (".a.txt.tmp-" + alive + "-2")));  // its process runs
  EXPECT_TRUE(fs::exists(d / (".a.txt.tmp-" + dead + "-3")));   // newer than this process
  EXPECT_TRUE(fs::exists(d / (".b.txt.tmp-" + dead + "-4")));   // another name
  { StagedDir s(d / "run"); }
  EXPECT_FALSE(fs::exists(d / (".run.tmp-" + dead + "-5")));
}

// SIGKILL at random moments of a process committing v1, v2, ... into one directory, through the exchange and
// through the fallback: after recovery the directory always exists and holds one complete version (both files
// of the same version). 25 kills per path at random moments; the fallback's window (no "run" between two renames)
// is microseconds wide, so there its child pauses 2 ms inside it (the test knob) and every other kill waits until
// "run" is gone: without recover_staged_dir those would be runs with no checkpoint (issue 23).
TEST(StagedDir, SigkillDuringCommitsNeverLeavesNoDirectory) {
  for (const bool fallback : {false, true}) {
    auto d = fresh_dir(fallback ? "kill_fallback" : "kill_exchange");
    {
      StagedDir s(d / "run");
      write_file_atomic(s.path() / "a.txt", "0");
      write_file_atomic(s.path() / "b.txt", "0");
      s.commit();
    }
    std::mt19937 rng(fallback ? 7 : 3);
    int in_window = 0;
    for (int kill = 0; kill < 25; ++kill) {
      const pid_t pid = ::fork();
      if (pid == 0) {
        if (fallback) ::setenv("NFP_TEST_NO_RENAME_EXCHANGE", "pause", 1);
        for (int v = 1;; ++v) {
          StagedDir s(d / "run");
          write_file_atomic(s.path() / "a.txt", std::to_string(v));
          write_file_atomic(s.path() / "b.txt", std::to_string(v));
          s.commit();
        }
      }
      if (fallback && kill % 2 == 0) {  // aimed: wait until the child is inside the window, then kill it
        const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(5);
        while (fs::exists(d / "run") && std::chrono::steady_clock::now() < give_up)
          std::this_thread::sleep_for(std::chrono::microseconds(50));
      } else {  // at a random moment
        std::this_thread::sleep_for(std::chrono::microseconds(200 + rng() % 3000));
      }
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
      in_window += !fs::exists(d / "run");
      recover_staged_dir(d / "run");
      ASSERT_TRUE(fs::is_directory(d / "run")) << (fallback ? "fallback" : "exchange") << ", kill " << kill;
      EXPECT_EQ(read_file(d / "run" / "a.txt"), read_file(d / "run" / "b.txt")) << "a half-replaced directory";
    }
    if (fallback) EXPECT_GE(in_window, 10) << "the aimed kills should land in the fallback's window";
    else EXPECT_EQ(in_window, 0) << "the exchange has no window";
  }
}

}  // namespace
}  // namespace nfp
