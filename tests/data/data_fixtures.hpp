// Small synthetic episodes and files in each layout, written by the tests themselves.
#pragma once
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include "nfp/episode.hpp"
#include "nfp/error.hpp"
#include "nfp/hdf5_dataset.hpp"

namespace nfp::test {

// A fresh temporary directory, removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() /
            ("nfp-data-test-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

// Episode `index` of length T: action[t][j] = 100*index + t + j/10 (so a value tells where it came from),
// obs "state" (T x 2) = {t, -t}, camera `camera` (T x H x W x 3) with every byte = (t + index) % 256.
inline Episode make_episode(int index, int64_t T, int64_t A = 3, const std::string& camera = "agentview_image",
                            int64_t H = 8, int64_t W = 8) {
  Episode e;
  e.name = "demo_" + std::to_string(index);
  e.actions.shape = {T, A};
  for (int64_t t = 0; t < T; ++t)
    for (int64_t j = 0; j < A; ++j) e.actions.data.push_back(100.0f * index + t + j / 10.0f);
  e.obs["state"].shape = {T, 2};
  for (int64_t t = 0; t < T; ++t) {
    e.obs["state"].data.push_back(float(t));
    e.obs["state"].data.push_back(-float(t));
  }
  if (!camera.empty()) {
    auto& im = e.images[camera];
    im.shape = {T, H, W, 3};
    for (int64_t t = 0; t < T; ++t) im.data.insert(im.data.end(), H * W * 3, uint8_t((t + index) % 256));
  }
  e.states.shape = {T, 4};
  e.states.data.assign(T * 4, 0.5 + index);
  e.rewards.assign(T, 0.0f);
  e.rewards.back() = 1.0f;
  e.dones.assign(T, 0);
  e.dones.back() = 1;
  return e;
}

}  // namespace nfp::test
