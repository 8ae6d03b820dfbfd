// Staged output directories (include/nfp/atomic_file.hpp): built under a temporary sibling name, then moved into
// place so that a kill at any moment leaves the previous directory or the new one at the final name, never none.
#include <fcntl.h>
#include <stdio.h>  // renameat2, RENAME_EXCHANGE (glibc >= 2.28)

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <thread>

#include "nfp/atomic_file.hpp"
#include "nfp/error.hpp"

namespace fs = std::filesystem;

namespace nfp {
namespace {

// "a/b/" names the directory "a/b": without this its temporary sibling would be created inside it.
fs::path without_trailing_slash(fs::path p) { return p.has_filename() || !p.has_parent_path() ? p : p.parent_path(); }

// Test knob NFP_TEST_NO_RENAME_EXCHANGE: "1" takes the fallback as if the filesystem could not exchange; "pause"
// also sleeps 2 ms inside its window (no final directory), so a kill test lands there (tests/core).
std::string test_knob() {
  const char* v = std::getenv("NFP_TEST_NO_RENAME_EXCHANGE");
  return v ? v : "";
}

// Swaps two directory entries in one step (Linux renameat2). False, with errno, where the kernel or filesystem
// lacks it (or the test knob is set).
bool exchange(const fs::path& a, const fs::path& b) {
  if (!test_knob().empty()) {
    errno = EINVAL;
    return false;
  }
#ifdef RENAME_EXCHANGE
  return ::renameat2(AT_FDCWD, a.c_str(), AT_FDCWD, b.c_str(), RENAME_EXCHANGE) == 0;
#else
  errno = ENOSYS;
  return false;
#endif
}

// The newest complete state beside a missing `final_dir` that a killed commit left (see commit()).
std::optional<fs::path> leftover_state(const fs::path& final_dir) {
  const fs::path dir = final_dir.has_parent_path() ? final_dir.parent_path() : fs::path(".");
  const std::string name = final_dir.filename().string();
  std::optional<fs::path> ready, old;
  std::error_code ec;
  auto newer = [&](const std::optional<fs::path>& have, const fs::path& p) {
    std::error_code tec;
    return !have || fs::last_write_time(p, tec) > fs::last_write_time(*have, tec);
  };
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string entry = it->path().filename().string();
    if (!it->is_directory(ec) || it->is_symlink(ec)) continue;
    if (entry.rfind("." + name + ".ready-", 0) == 0 && newer(ready, it->path())) ready = it->path();
    if (entry.rfind(name + ".old-", 0) == 0 && newer(old, it->path())) old = it->path();
  }
  return ready ? ready : old;
}

}  // namespace

bool recover_staged_dir(const fs::path& final_in) {
  const fs::path final_dir = without_trailing_slash(final_in);
  std::error_code ec;
  if (fs::exists(final_dir, ec) || final_dir.filename().empty()) return false;
  const auto state = leftover_state(final_dir);
  if (!state) return false;
  fs::rename(*state, final_dir, ec);
  return !ec;
}

StagedDir::StagedDir(fs::path final_dir) : final_(without_trailing_slash(std::move(final_dir))) {
  require(!final_.empty(), "the output directory name is empty; pass a path such as --out runs/model");
  recover_staged_dir(final_);  // a commit killed between its renames: its directory first, then the new one
  if (fs::exists(final_)) {
    require(fs::is_directory(final_), quoted(final_.string()) + " exists and is not a directory; choose another --out");
  }
  fs::path parent = final_.has_parent_path() ? final_.parent_path() : fs::path(".");
  std::error_code ec;
  fs::create_directories(parent, ec);
  require(!ec, "cannot create directory '" + parent.string() + "': " + ec.message());
  remove_stale_temporaries(final_);
  tmp_ = temp_sibling(final_);
  fs::create_directory(tmp_, ec);
  require(!ec, "cannot create directory '" + tmp_.string() + "': " + ec.message());
}

StagedDir::~StagedDir() {
  if (!committed_) {
    std::error_code ec;
    fs::remove_all(tmp_, ec);
  }
}

// Replacing an existing directory: one RENAME_EXCHANGE swaps the complete new directory with the old one, so a
// kill at any moment leaves one of them at final_ (the old one, now at tmp_, is removed after). Where the
// filesystem cannot exchange, three renames: tmp -> ".NAME.ready-*" (complete by its name), final -> "NAME.old-*",
// ready -> final; a kill between the last two leaves no final_, and recover_staged_dir (run by loads, --resume and
// the next StagedDir) moves the ready one, else the old one, back.
void StagedDir::commit() {
  std::error_code ec;
  if (!fs::exists(final_, ec)) {
    commit_rename_point();
    fs::rename(tmp_, final_, ec);
    require(!ec, "cannot move the output into place at '" + final_.string() + "': " + ec.message());
    committed_ = true;
    return;
  }
  commit_rename_point();
  if (exchange(tmp_, final_)) {
    committed_ = true;
    fs::remove_all(tmp_, ec);  // the previous directory
    return;
  }
  const int why = errno;
  require(why == EINVAL || why == ENOSYS || why == ENOTSUP,
          "cannot replace '" + final_.string() + "': " + std::strerror(why));
  const fs::path ready = temp_sibling(final_, "ready");
  commit_rename_point();
  fs::rename(tmp_, ready, ec);
  require(!ec, "cannot replace '" + final_.string() + "': " + ec.message());
  tmp_ = ready;  // removed by the destructor if what follows fails
  const fs::path old = final_.string() + ".old-" + unique_suffix();
  commit_rename_point();
  fs::rename(final_, old, ec);
  require(!ec, "cannot replace '" + final_.string() + "': " + ec.message());
  if (test_knob() == "pause") std::this_thread::sleep_for(std::chrono::milliseconds(2));
  commit_rename_point();
  fs::rename(ready, final_, ec);
  if (ec) {
    const std::string msg = ec.message();
    fs::rename(old, final_, ec);
    throw Error("cannot move the output into place at '" + final_.string() + "': " + msg);
  }
  committed_ = true;
  fs::remove_all(old, ec);
}

}  // namespace nfp
