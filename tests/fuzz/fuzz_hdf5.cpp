// Fuzz target: an HDF5 demonstration file through the dataset readers, as `nfp data info` and `nfp train` open it:
// open_episode_store with automatic layout detection (images kept in memory), then lazily (an image budget of 0,
// frames read through ImageFrameReader), and read_episodes with the layout forced to robomimic, LIBERO or ACT
// (picked by the input's size). The file is written to a temporary file (the readers take paths; libhdf5's core
// driver would bypass the structure check that open_file runs first, hdf5_guard.cpp).
//
// Allowed outcomes: episodes, or nfp::Error with a one-line message. Anything else (another exception, a crash,
// a sanitizer report) aborts; a crash of libhdf5 in the structure walk's child is the refusal the guard promises.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include "nfp/episode_store.hpp"
#include "nfp/error.hpp"
#include "nfp/hdf5_dataset.hpp"

namespace {

[[noreturn]] void finding(const std::string& what) {
  std::fprintf(stderr, "fuzz_hdf5: %s\n", what.c_str());
  std::abort();
}

const std::string& temp_path() {
  static const std::string p = (access("/dev/shm", W_OK) == 0 ? std::string("/dev/shm") : std::string("/tmp")) +
                               "/nfp_fuzz_hdf5_" + std::to_string(getpid()) + ".hdf5";
  return p;
}

template <typename F>
void refused_or_ok(F&& f) {
  try {
    f();
  } catch (const nfp::Error& e) {
    if (std::strchr(e.what(), '\n')) finding(std::string("a multi-line error: ") + e.what());
  } catch (const std::exception& e) {
    finding(std::string("unexpected exception: ") + e.what());
  }
}

void store(size_t image_budget) {
  nfp::StoreOptions options;
  options.image_memory_budget = int64_t(image_budget);
  const nfp::EpisodeStore s = nfp::open_episode_store(temp_path(), options);
  if (s.episodes.empty() || s.episodes.size() != s.file_of.size()) finding("a store without consistent episodes");
  for (size_t c = 0; c < s.cameras.size(); ++c) {
    const auto& shape = s.camera_shapes.at(c);
    size_t frame = 1;
    for (int64_t d : shape) frame *= size_t(d);
    const int64_t T = s.episodes[0].length();
    if (T < 1 || frame > (size_t(16) << 20)) continue;
    std::vector<uint8_t> out(2 * frame);
    s.copy_frames(0, c, {0, T - 1}, out.data());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  {
    FILE* f = std::fopen(temp_path().c_str(), "wb");
    if (!f) finding("cannot write the temporary file");
    if (size && std::fwrite(data, 1, size, f) != size) finding("short write");
    std::fclose(f);
  }
  refused_or_ok([] { store(size_t(8) << 30); });
  refused_or_ok([] { store(0); });
  refused_or_ok([size] {
    static const nfp::DatasetLayout kLayouts[] = {nfp::DatasetLayout::robomimic, nfp::DatasetLayout::libero,
                                                  nfp::DatasetLayout::act};
    nfp::ReadOptions options;
    options.layout = kLayouts[size % 3];
    nfp::read_episodes(temp_path(), options);
  });
  std::remove(temp_path().c_str());
  return 0;
}
