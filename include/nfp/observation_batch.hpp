// A batch of observation histories as the policy's encoders take them: what a training batch carries (Batch
// derives from it, nfp/window_dataset.hpp) and what a PolicyRunner builds from its episode's observations
// (one history, B = 1). Normalized, so a batch goes straight into PolicyImpl::encode.
#pragma once
#include <torch/torch.h>

#include <map>
#include <string>
#include <vector>

namespace nfp {

struct ObservationBatch {
  std::map<std::string, torch::Tensor> lowdim;  // low-dim key -> (B x m x d) normalized
  std::map<std::string, torch::Tensor> images;  // camera key -> (B x m x 3 x H x W) float in [0, 1]
  std::vector<std::string> instructions;        // (B), with "instruction" in the policy's obs
  torch::Tensor prev_action;                    // (B x A) normalized action at t - stride (zeros at a reset)
};

// Moves every tensor of `batch` to `device` (--device; a no-op for tensors already there).
inline void move_to(ObservationBatch& batch, torch::Device device) {
  for (auto& [key, t] : batch.lowdim) t = t.to(device);
  for (auto& [key, t] : batch.images) t = t.to(device);
  if (batch.prev_action.defined()) batch.prev_action = batch.prev_action.to(device);
}

}  // namespace nfp
