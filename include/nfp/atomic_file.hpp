// Atomic outputs: a killed or failed run never leaves a half-written file or directory, and never destroys
// what was saved before.
#pragma once
#include <filesystem>
#include <string>

namespace nfp {

// Writes `bytes` to `path` through a temporary file in the same directory, fsync, then rename.
void write_file_atomic(const std::filesystem::path& path, const std::string& bytes);

// Called just before every rename that commits an output (files, staged directories, exports, datasets). Fault
// injection for the kill-safety tests: with NFP_TEST_KILL_AT_RENAME=N in the environment the process SIGKILLs
// itself at its N-th such rename (1-based); without it, nothing happens.
void commit_rename_point();

// Reads a whole file; throws nfp::Error naming the path if it cannot be read.
std::string read_file(const std::filesystem::path& path);

// "<pid>-<random hex>": the suffix of every temporary name, so a later run can tell whose it was.
std::string unique_suffix();
// A sibling temporary name for `path` in the same directory (a rename into place is atomic):
// ".NAME.<kind>-<pid>-<hex>".
std::filesystem::path temp_sibling(const std::filesystem::path& path, const std::string& kind = "tmp");
// Removes what killed writes left beside `path` (".NAME.tmp-*", ".NAME.ready-*", and "NAME.old-*" once NAME exists):
// only entries whose process (the pid in the name) is gone and which are older than this process, so a concurrent
// writer's temporary is never touched. Every write_file_atomic and StagedDir does this first.
void remove_stale_temporaries(const std::filesystem::path& path);
// A StagedDir commit killed between its renames (filesystems without RENAME_EXCHANGE) can leave `final_dir`
// missing: this moves the newest complete state back (the new ".NAME.ready-*", else the previous "NAME.old-*").
// Returns true if it did. Loads and --resume call it before reading a checkpoint or model directory.
bool recover_staged_dir(const std::filesystem::path& final_dir);

// An output directory built under a temporary sibling name and moved into place by commit().
// If the object is destroyed without commit() (an error, an exception) the temporary directory is removed
// and an existing directory at `final` is left untouched. commit() replaces an existing directory only
// after the new one is complete, with one renameat2(RENAME_EXCHANGE) where the filesystem has it: a SIGKILL at
// any moment leaves the previous or the new directory at `final` (see recover_staged_dir for the fallback).
class StagedDir {
 public:
  explicit StagedDir(std::filesystem::path final_dir);
  ~StagedDir();
  StagedDir(const StagedDir&) = delete;
  StagedDir& operator=(const StagedDir&) = delete;

  // Where to write files now (the temporary directory).
  const std::filesystem::path& path() const { return tmp_; }
  const std::filesystem::path& final_path() const { return final_; }
  void commit();

 private:
  std::filesystem::path final_;
  std::filesystem::path tmp_;
  bool committed_ = false;
};

}  // namespace nfp
