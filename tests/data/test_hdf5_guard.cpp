// The structure walk in a forked child (src/data/hdf5_guard.cpp): files on which libhdf5 itself crashes (the
// regression inputs tests/fuzz/corpus/hdf5/libhdf5_*.hdf5, found by mutating a freshly collected dataset) are
// refused with one error line naming the file, and the process lives on; good files still read.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <functional>

#include "data/hdf5_util.hpp"
#include "data_fixtures.hpp"
#include "nfp/episode_store.hpp"
#include "nfp/hdf5_dataset.hpp"

namespace nfp {
namespace {

namespace fs = std::filesystem;
using test::make_episode;
using test::TempDir;

// The regression inputs on which libhdf5 1.10 crashes (libhdf5_<signal>_<where>.hdf5) or loops (libhdf5_hang_*).
std::vector<fs::path> libhdf5_inputs(const std::string& prefix) {
  const char* data = std::getenv("NFP_TEST_DATA");  // tests/data
  const fs::path dir = fs::path(data ? data : "tests/data") / ".." / "fuzz" / "corpus" / "hdf5";
  std::vector<fs::path> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.path().filename().string().rfind(prefix, 0) == 0) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

void expect_refused(const std::function<void()>& fn, const std::string& name) {
  try {
    fn();
    ADD_FAILURE() << name << ": expected nfp::Error";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find(name), std::string::npos) << m;
    EXPECT_NE(m.find("corrupt HDF5"), std::string::npos) << m;
    EXPECT_EQ(m.find('\n'), std::string::npos) << m;
  }
}

TEST(Hdf5Guard, FilesThatCrashLibhdf5AreRefusedInOneLine) {
  const auto crashers = libhdf5_inputs("libhdf5_segv_");
  ASSERT_FALSE(crashers.empty()) << "no tests/fuzz/corpus/hdf5/libhdf5_*.hdf5 (NFP_TEST_DATA unset?)";
  TempDir dir;
  for (const auto& src : crashers) {
    const std::string name = src.filename().string();
    const fs::path p = dir / name;
    fs::copy_file(src, p);
    expect_refused([&] { read_dataset_info(p); }, name);
    expect_refused([&] { read_episodes(p); }, name);
    expect_refused([&] { open_episode_store(p.string()); }, name);
    // Refused every time (a refusal is not remembered as a safe walk).
    expect_refused([&] { h5::check_structure(p); }, name);
  }
}

TEST(Hdf5Guard, WithoutTheGuardTheRegressionInputsDoCrashLibhdf5) {
  // Proves the inputs above test the guard: read in one process (NFP_HDF5_NO_ISOLATION=1), each kills it.
  for (const auto& p : libhdf5_inputs("libhdf5_segv_")) {
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      setenv("NFP_HDF5_NO_ISOLATION", "1", 1);
      try {
        read_episodes(p);
      } catch (...) {
      }
      _exit(0);
    }
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    if (!WIFSIGNALED(status))
      GTEST_SKIP() << p.filename() << " no longer crashes this libhdf5 (fixed upstream?); the guard is untested";
  }
}

TEST(Hdf5Guard, AFileOnWhichLibhdf5LoopsIsRefusedAfterTheTimeLimit) {
  const auto hangs = libhdf5_inputs("libhdf5_hang_");
  ASSERT_FALSE(hangs.empty());
  setenv("NFP_HDF5_WALK_SECONDS", "2", 1);
  TempDir dir;
  for (const auto& src : hangs) {
    const fs::path p = dir / src.filename().string();
    fs::copy_file(src, p);
    const auto start = std::chrono::steady_clock::now();
    expect_refused([&] { read_dataset_info(p); }, src.filename().string());
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    EXPECT_GE(s, 1.5);   // it waited for the walk ...
    EXPECT_LT(s, 30.0);  // ... and no longer than the limit (plus a loaded machine's slack)
  }
  unsetenv("NFP_HDF5_WALK_SECONDS");
}

TEST(Hdf5Guard, GoodFilesStillReadAndRewrittenOnesAreReadAfresh) {
  TempDir dir;
  const auto good = dir / "good.hdf5";
  write_robomimic(good, {make_episode(0, 5), make_episode(1, 6)}, {{"env_name", "Lift"}});
  EXPECT_NO_THROW(h5::check_structure(good));
  const auto eps = read_episodes(good);
  ASSERT_EQ(eps.size(), 2u);
  EXPECT_EQ(eps[1].length(), 6);
  // Rewritten in place with other content: walked again, and read again correctly.
  write_robomimic(good, {make_episode(0, 7)}, {{"env_name", "Lift"}});
  const auto again = read_episodes(good);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].length(), 7);
}

}  // namespace
}  // namespace nfp
