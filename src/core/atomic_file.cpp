#include "nfp/atomic_file.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdlib>
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

// This process's start, as the filesystem clock reads it: a temporary older than this, whose process is gone,
// was left by a killed write.
const fs::file_time_type kProcessStart = fs::file_time_type::clock::now();

bool process_alive(long pid) { return pid > 0 && (::kill(pid_t(pid), 0) == 0 || errno == EPERM); }

}  // namespace

std::string unique_suffix() {
  std::random_device rd;
  std::ostringstream s;
  s << ::getpid() << "-" << std::hex << rd();
  return s.str();
}

fs::path temp_sibling(const fs::path& path, const std::string& kind) {
  const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
  std::string name = ".";  // appended, not "." + string: GCC 12 -O2 warns falsely on the latter (see quoted())
  name += path.filename().string();
  name += "." + kind + "-" + unique_suffix();
  return dir / name;
}

void remove_stale_temporaries(const fs::path& path) {
  const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
  const std::string name = path.filename().string();
  if (name.empty()) return;
  const std::vector<std::string> prefixes = {"." + name + ".tmp-", "." + name + ".ready-", name + ".old-"};
  std::error_code ec;
  std::vector<fs::path> stale;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string entry = it->path().filename().string();
    for (const auto& prefix : prefixes) {
      if (entry.rfind(prefix, 0) != 0) continue;
      char* stop = nullptr;
      const long pid = std::strtol(entry.c_str() + prefix.size(), &stop, 10);
      std::error_code tec;
      const auto written = fs::last_write_time(it->path(), tec);
      // Only ours by name ("<pid>-"), from a process that is gone, and from before this process started: a
      // concurrent writer's temporary is never touched.
      if (!tec && stop && *stop == '-' && !process_alive(pid) && written < kProcessStart) stale.push_back(it->path());
      break;
    }
  }
  // A "NAME.old-*" is the previous directory of a commit killed between its renames: only stale once NAME exists
  // again (recover_staged_dir moves it back otherwise).
  const bool has_final = fs::exists(path, ec);
  for (const auto& p : stale)
    if (has_final || p.filename().string().rfind(name + ".old-", 0) != 0) fs::remove_all(p, ec);
}

void write_file_atomic(const fs::path& path, const std::string& bytes) {
  const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
  std::error_code ec;
  fs::create_directories(dir, ec);
  require(!ec, "cannot create directory " + quoted(dir.string()) + ": " + ec.message());
  remove_stale_temporaries(path);
  const fs::path tmp = temp_sibling(path);
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
  commit_rename_point();
  fs::rename(tmp, path, ec);
  if (ec) {
    fs::remove(tmp, ec);
    throw Error("cannot move the new file into place at '" + path.string() + "': " + ec.message());
  }
}

void commit_rename_point() {
  static const long kill_at = [] {
    const char* v = std::getenv("NFP_TEST_KILL_AT_RENAME");
    return v ? std::atol(v) : 0L;
  }();
  static std::atomic<long> renames{0};
  if (kill_at > 0 && ++renames == kill_at) ::raise(SIGKILL);
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  require(static_cast<bool>(in), "cannot read '" + path.string() + "': " +
                                     (fs::exists(path) ? "permission denied or not a file" : "no such file"));
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace nfp
