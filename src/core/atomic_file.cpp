#include "nfp/atomic_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>

#include "nfp/error.hpp"

namespace fs = std::filesystem;

namespace nfp {
namespace {

// errno as text, read once right after the failing call; never "Success" (errno 0: a failure that set none).
std::string errno_text(int e) { return e ? std::strerror(e) : "an I/O error that set no errno"; }

std::string unique_suffix() {
  std::random_device rd;
  std::ostringstream s;
  s << ::getpid() << "-" << std::hex << rd();
  return s.str();
}

}  // namespace

void write_file_atomic(const fs::path& path, const std::string& bytes) {
  const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
  std::error_code ec;
  fs::create_directories(dir, ec);
  require(!ec, "cannot create directory " + quoted(dir.string()) + ": " + ec.message());
  std::string name = ".";  // appended, not "." + string: GCC 12 -O2 warns falsely on the latter (see quoted())
  name += path.filename().string();
  const fs::path tmp = dir / (name + ".tmp-" + unique_suffix());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  require(fd >= 0, "cannot write '" + tmp.string() + "': " + errno_text(errno));
  size_t done = 0;
  std::string why;  // the first failure: write, fsync (a full disk may only show here) or close
  while (done < bytes.size() && why.empty()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) why = n < 0 ? errno_text(errno) : "the write made no progress";
    else done += static_cast<size_t>(n);
  }
  if (why.empty() && ::fsync(fd) != 0) why = errno_text(errno);
  if (::close(fd) != 0 && why.empty()) why = errno_text(errno);
  if (!why.empty()) {
    fs::remove(tmp, ec);
    throw Error("cannot write '" + path.string() + "': " + why + " (is the disk full?); the previous file is unchanged");
  }
  fs::rename(tmp, path, ec);
  if (ec) {
    fs::remove(tmp, ec);
    throw Error("cannot move the new file into place at '" + path.string() + "': " + ec.message());
  }
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  require(static_cast<bool>(in), "cannot read '" + path.string() + "': " +
                                     (fs::exists(path) ? "permission denied or not a file" : "no such file"));
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

StagedDir::StagedDir(fs::path final_dir) : final_(std::move(final_dir)) {
  require(!final_.empty(), "the output directory name is empty; pass a path such as --out runs/model");
  if (fs::exists(final_)) {
    require(fs::is_directory(final_), quoted(final_.string()) + " exists and is not a directory; choose another --out");
  }
  fs::path parent = final_.has_parent_path() ? final_.parent_path() : fs::path(".");
  std::error_code ec;
  fs::create_directories(parent, ec);
  require(!ec, "cannot create directory '" + parent.string() + "': " + ec.message());
  const std::string name = final_.filename().empty() ? final_.parent_path().filename().string()
                                                     : final_.filename().string();
  tmp_ = parent / ("." + name + ".tmp-" + unique_suffix());
  fs::create_directory(tmp_, ec);
  require(!ec, "cannot create directory '" + tmp_.string() + "': " + ec.message());
}

StagedDir::~StagedDir() {
  if (!committed_) {
    std::error_code ec;
    fs::remove_all(tmp_, ec);
  }
}

void StagedDir::commit() {
  std::error_code ec;
  fs::path old;
  if (fs::exists(final_)) {
    old = final_.string() + ".old-" + unique_suffix();
    fs::rename(final_, old, ec);
    require(!ec, "cannot replace '" + final_.string() + "': " + ec.message());
  }
  fs::rename(tmp_, final_, ec);
  if (ec) {
    if (!old.empty()) fs::rename(old, final_, ec);
    throw Error("cannot move the output into place at '" + final_.string() + "'");
  }
  committed_ = true;
  if (!old.empty()) fs::remove_all(old, ec);
}

}  // namespace nfp
