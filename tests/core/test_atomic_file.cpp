// Atomic files and staged output directories: a failed run leaves nothing half-written and loses nothing.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "nfp/atomic_file.hpp"
#include "nfp/error.hpp"

namespace fs = std::filesystem;

namespace nfp {
namespace {

fs::path fresh_dir(const std::string& name) {
  auto d = fs::temp_directory_path() / ("nfp_atomic_" + name);
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

}  // namespace
}  // namespace nfp
