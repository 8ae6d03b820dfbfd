// Atomic outputs: a killed or failed run never leaves a half-written file or directory, and never destroys
// what was saved before.
#pragma once
#include <filesystem>
#include <string>

namespace nfp {

// Writes `bytes` to `path` through a temporary file in the same directory, fsync, then rename.
void write_file_atomic(const std::filesystem::path& path, const std::string& bytes);

// Reads a whole file; throws nfp::Error naming the path if it cannot be read.
std::string read_file(const std::filesystem::path& path);

// An output directory built under a temporary sibling name and moved into place by commit().
// If the object is destroyed without commit() (an error, an exception) the temporary directory is removed
// and an existing directory at `final` is left untouched. commit() replaces an existing directory only
// after the new one is complete.
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
