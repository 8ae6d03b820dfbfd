// Training windows (nfp/windows.hpp) of an episode store as normalized tensor batches, with Diffusion-Policy
// style image augmentation. The loader (nfp/data_loader.hpp) calls make_batch from background threads.
#pragma once
#include <torch/torch.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "nfp/episode_store.hpp"
#include "nfp/normalizer.hpp"
#include "nfp/windows.hpp"

namespace nfp {

enum class Augment {
  none,
  random_shift,  // DrQ / Diffusion Policy: pad by `shift_pad` (edge pixels repeat), random crop back to H x W
  random_crop,   // Diffusion Policy: random crop_h x crop_w crop in training, centre crop in evaluation
};
Augment parse_augment(const std::string& name);  // "none", "random_shift", "random_crop"

struct AugmentOptions {
  Augment kind = Augment::none;
  int64_t shift_pad = 4;
  int64_t crop_h = 0, crop_w = 0;  // random_crop output size (0: 7/8 of the image, 84 of 96 as in Diffusion Policy)
  bool train = true;               // false: no randomness (shift off, crop centred)
};

struct Batch {
  torch::Tensor actions;      // (B x n x A), or (B x n*A) when flat; normalized
  torch::Tensor action_pad;   // (B x n) bool: true where the frame repeats the episode's last action
  torch::Tensor prev_action;  // (B x A) normalized action at t - s; zeros when t < s (as at a policy reset)
  std::map<std::string, torch::Tensor> obs;     // low-dim key -> (B x m x d) normalized
  std::map<std::string, torch::Tensor> images;  // camera -> (B x m x C x H' x W') float in [0, 1]
  std::vector<std::string> instructions;        // (B)
  std::vector<WindowRef> windows;               // (B) which episode and time step
  int64_t size() const { return static_cast<int64_t>(windows.size()); }
};

class WindowDataset {
 public:
  // `store` holds the split to draw windows from; `normalizer` is computed over the training split.
  WindowDataset(std::shared_ptr<const EpisodeStore> store, WindowSpec spec, Normalizer normalizer);

  int64_t size() const { return static_cast<int64_t>(windows_.size()); }  // one window per frame
  const WindowRef& window(int64_t i) const { return windows_.at(i); }
  const WindowSpec& spec() const { return spec_; }
  const EpisodeStore& store() const { return *store_; }
  const Normalizer& normalizer() const { return normalizer_; }
  // Per-camera output image size (C x H' x W') under `aug`.
  std::vector<int64_t> image_shape(size_t camera, const AugmentOptions& aug) const;

  // Batch of windows `indices` (into window()); augmentation randomness comes from `aug_seed` only, so a batch
  // is the same whichever thread builds it.
  Batch make_batch(const std::vector<int64_t>& indices, const AugmentOptions& aug, uint64_t aug_seed,
                   bool flat_actions = false) const;

 private:
  std::shared_ptr<const EpisodeStore> store_;
  WindowSpec spec_;
  Normalizer normalizer_;
  std::vector<WindowRef> windows_;
};

}  // namespace nfp
