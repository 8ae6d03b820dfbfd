// Training windows (nfp/windows.hpp) of an episode store as normalized tensor batches (images as float CHW in
// [0, 1], cropped when a crop is set: --crop; their training-time random shift is the image encoder's). The loader
// (nfp/data_loader.hpp) calls make_batch from background threads.
#pragma once
#include <torch/torch.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "nfp/episode_store.hpp"
#include "nfp/image_preprocess.hpp"
#include "nfp/normalizer.hpp"
#include "nfp/observation_batch.hpp"
#include "nfp/windows.hpp"

namespace nfp {

// The encoders' inputs (lowdim (B x m x d), images (B x m x C x H x W), instructions, prev_action: the action
// at t - s, zeros when t < s as at a policy reset) plus the chunk to learn.
struct Batch : ObservationBatch {
  torch::Tensor actions;      // (B x n x A), or (B x n*A) when flat; normalized
  torch::Tensor action_pad;   // (B x n) bool: true where the frame repeats the episode's last action
  std::vector<WindowRef> windows;  // (B) which episode and time step
  int64_t size() const { return static_cast<int64_t>(windows.size()); }
};

// The crop every camera image of a batch gets (nfp/image_preprocess.hpp): a random window per image (training
// batches) or the centre one (validation); `size` empty: none.
struct BatchCrop {
  ImageSize size;
  bool random = false;
};

class WindowDataset {
 public:
  // `store` holds the split to draw windows from; `normalizer` is computed over the training split.
  WindowDataset(std::shared_ptr<const EpisodeStore> store, WindowSpec spec, Normalizer normalizer, BatchCrop crop = {});

  int64_t size() const { return static_cast<int64_t>(windows_.size()); }  // one window per frame
  const WindowRef& window(int64_t i) const { return windows_.at(i); }
  const WindowSpec& spec() const { return spec_; }
  const EpisodeStore& store() const { return *store_; }
  const Normalizer& normalizer() const { return normalizer_; }

  // Batch of windows `indices` (into window()); a pure function of the indices and `draw` (the random crops' seed),
  // so a batch is the same whichever thread builds it.
  Batch make_batch(const std::vector<int64_t>& indices, bool flat_actions = false, uint64_t draw = 0) const;

 private:
  std::shared_ptr<const EpisodeStore> store_;
  WindowSpec spec_;
  Normalizer normalizer_;
  BatchCrop crop_;
  std::vector<WindowRef> windows_;
};

}  // namespace nfp
