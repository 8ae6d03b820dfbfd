// The structure walk of an HDF5 file in a forked child (hdf5_util.hpp, check_structure): libhdf5 1.10 crashes
// on some corrupt files (a global-heap object whose stored size runs past its collection makes H5HG_read copy out
// of bounds; an attribute closed while an error unwinds segfaults in H5A__close), and no check before the call
// can see it. The child opens the file and reads everything the readers read, with the readers' own functions;
// a child killed by a signal (or looping) becomes one error line, and the parent then reads a file that libhdf5
// has been seen to walk safely.
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <mutex>
#include <map>
#include <memory>
#include <thread>
#include <tuple>

#include "hdf5_util.hpp"

namespace fs = std::filesystem;

namespace nfp::h5 {
namespace {

// A walk longer than this is libhdf5 looping on a corrupt structure (a global heap whose free-space object has size
// 0 makes its parser loop forever); NFP_HDF5_WALK_SECONDS overrides it (the corpus replays use a few seconds).
constexpr int kWalkSeconds = 120;

int walk_seconds() {
  const char* s = std::getenv("NFP_HDF5_WALK_SECONDS");
  const int v = s ? std::atoi(s) : 0;
  return v > 0 ? v : kWalkSeconds;
}
// Dataset contents read in the walk: each dataset up to 64 MiB stored, 512 MiB in all (a large file's headers and
// attributes are all walked, but its bulk data is not read twice before training starts).
constexpr hsize_t kReadWhole = hsize_t(64) << 20;
constexpr hsize_t kReadTotal = hsize_t(512) << 20;

#if defined(__SANITIZE_ADDRESS__)
#define NFP_H5_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NFP_H5_ASAN 1
#endif
#endif

// Exit status of a walk that AddressSanitizer stopped inside libhdf5 (its memcpy interceptor catches libhdf5's
// out-of-bounds copies, which an uninstrumented build turns into SIGSEGV or silent corruption): the file is corrupt.
// Any other sanitizer report in the walk is a bug in nfp's own reading code, which the fuzzers must see.
constexpr int kLibhdf5Fault = 77;

#ifdef NFP_H5_ASAN
}  // namespace
}  // namespace nfp::h5
#include <sanitizer/asan_interface.h>
namespace nfp::h5 {
namespace {

// In the child: whose bug the report is, by its first stack frame in either libhdf5 or nfp's code (the frames above
// are the sanitizer's interceptors: memcpy, strdup, ...).
void on_asan_report(const char* report) {
  const std::string r = report ? report : "";
  for (size_t at = r.find("    #"); at != std::string::npos; at = r.find("    #", at + 1)) {
    const std::string frame = r.substr(at, r.find('\n', at) - at);
    if (frame.find("libhdf5") != std::string::npos) _exit(kLibhdf5Fault);
    if (frame.find("nfp::") != std::string::npos) return;
  }
}
#endif

void walk_attrs(const File& f, const std::string& obj) {
  try {
    for (const auto& name : attr_names(f, obj)) {
      try {
        read_attr(f, obj, name);
      } catch (const Error&) {
      }
    }
  } catch (const Error&) {
  }
}

void walk_dataset(const File& f, const std::string& path, hsize_t& budget) {
  DatasetDesc d;
  try {
    d = describe(f, path);
  } catch (const Error&) {
    return;
  }
  try {
    if (d.type_class == H5T_STRING) {
      read_strings(f, path);
    } else if (d.type_class == H5T_INTEGER || d.type_class == H5T_FLOAT) {
      Handle ds(H5Dopen2(f.handle.get(), path.c_str(), H5P_DEFAULT), H5Dclose);
      const hsize_t stored = ds.valid() ? H5Dget_storage_size(ds.get()) : 0;
      if (ds.valid() && stored <= kReadWhole && stored <= budget) {
        budget -= stored;
        if (d.type_class == H5T_INTEGER && d.type_size == 1) read_uint8(f, path);
        else if (d.type_class == H5T_FLOAT && d.type_size == 8) read_double(f, path);
        else read_float(f, path);
      }
    }
  } catch (const Error&) {
  }
}

herr_t visit_link(hid_t, const char* name, const H5L_info_t*, void* out) {
  static_cast<std::vector<std::string>*>(out)->push_back(name);
  return 0;
}

// Everything the readers touch: every link below the root (H5Lvisit stops at cycles), each object's type and
// attributes, each dataset's header and (up to kReadWhole) its data. Errors are expected here (the parent reports
// them properly); only a crash or a hang matters.
void walk(const fs::path& path) {
  silence_errors();
  const hid_t id = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (id < 0) return;
  File f{path, Handle(id, H5Fclose)};
  walk_attrs(f, "/");
  std::vector<std::string> names;
  H5Lvisit(id, H5_INDEX_NAME, H5_ITER_INC, visit_link, &names);
  hsize_t budget = kReadTotal;
  for (const auto& name : names) {
    exists(id, name);
    if (is_group(id, name)) {
      walk_attrs(f, name);
      try {
        children(f, name);
      } catch (const Error&) {
      }
    } else if (is_dataset(id, name)) {
      walk_attrs(f, name);
      walk_dataset(f, name, budget);
    }
  }
}

std::string signal_name(int sig) {
  const char* s = strsignal(sig);
  return std::string(s ? s : "signal") + ", signal " + std::to_string(sig);
}

// Files walked safely in this process, by path, size, modification time and a hash of their first and last MiB
// (file times tick coarsely: a file rewritten within a few milliseconds must still be walked again).
using Seen = std::tuple<std::string, uintmax_t, int64_t, size_t>;

size_t edge_hash(const fs::path& path, uintmax_t size) {
  std::ifstream in(path, std::ios::binary);
  const uintmax_t edge = uintmax_t(1) << 20;
  std::string bytes(size_t(std::min(size, 2 * edge)), '\0');
  in.read(bytes.data(), std::streamsize(std::min(size, edge)));
  if (size > edge) {
    in.seekg(std::streamoff(size - std::min(size - edge, edge)));
    in.read(bytes.data() + edge, std::streamsize(bytes.size() - edge));
  }
  return std::hash<std::string>{}(bytes);
}
std::mutex seen_mutex;
std::map<Seen, std::string> seen;  // "" for a safe walk, else the refusal (a file that loops is waited for once)

[[noreturn]] void refuse(const Seen& key, const std::string& message) {
  {
    std::lock_guard<std::mutex> lock(seen_mutex);
    seen[key] = message;
  }
  throw Error(message);
}

}  // namespace

void check_structure(const fs::path& path) {
  const char* off = std::getenv("NFP_HDF5_NO_ISOLATION");
  if (off && std::strcmp(off, "1") == 0) return;
  std::error_code ec;
  const uintmax_t size = fs::file_size(path, ec);
  const Seen key{fs::absolute(path, ec).string(), size,
                 int64_t(fs::last_write_time(path, ec).time_since_epoch().count()), ec ? 0 : edge_hash(path, size)};
  {
    std::lock_guard<std::mutex> lock(seen_mutex);
    const auto it = seen.find(key);
    if (it != seen.end() && it->second.empty()) return;
    if (it != seen.end()) throw Error(it->second);
  }
  const std::string file = "'" + path.string() + "'";
  std::fflush(nullptr);  // nothing buffered is written twice by the child
#ifdef NFP_H5_ASAN
  // The child's stderr goes to a file: a report about libhdf5 is the file's fault (one error line, not a report),
  // one about nfp's code is shown before the abort below.
  std::unique_ptr<FILE, int (*)(FILE*)> child_log(std::tmpfile(), &std::fclose);
#endif
  const pid_t pid = fork();
  if (pid < 0) return;  // no process to spare: read unguarded rather than refuse a good file
  if (pid == 0) {
#ifdef NFP_H5_ASAN
    if (child_log) dup2(fileno(child_log.get()), 2);
    __asan_set_error_report_callback(on_asan_report);
#endif
    walk(path);
    _exit(0);  // no atexit handlers: HDF5's own shutdown may trip over the same corrupt state
  }
  int status = 0;
  const int seconds = walk_seconds();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  auto pause = std::chrono::microseconds(50);
  while (true) {
    const pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) break;
    if (r < 0 && errno != EINTR) return;  // SIGCHLD ignored by the application: the child cannot be waited for
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      refuse(key, file + ": corrupt HDF5 (libhdf5 did not finish reading its structure in " +
                  std::to_string(seconds) + " s); re-create or re-download it");
    }
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::microseconds(20000));
  }
  if (WIFSIGNALED(status))
    refuse(key, file + ": corrupt HDF5 (libhdf5 crashed reading its structure: " + signal_name(WTERMSIG(status)) +
                "); re-create or re-download it");
  if (WIFEXITED(status) && WEXITSTATUS(status) == kLibhdf5Fault)
    refuse(key, file + ": corrupt HDF5 (libhdf5 read out of bounds reading its structure); re-create or re-download it");
  if (WIFEXITED(status) && WEXITSTATUS(status) != 0) {
#ifdef NFP_H5_ASAN
    if (child_log) {  // a sanitizer report in nfp's own code in the walk: show it
      std::rewind(child_log.get());
      char buf[4096];
      for (size_t n; (n = std::fread(buf, 1, sizeof buf, child_log.get())) > 0;) std::fwrite(buf, 1, n, stderr);
    }
    std::abort();
#endif
    refuse(key, file + ": corrupt HDF5 (reading its structure failed with status " +
                std::to_string(WEXITSTATUS(status)) + "); re-create or re-download it");
  }
  std::lock_guard<std::mutex> lock(seen_mutex);
  seen[key] = "";
}

}  // namespace nfp::h5
