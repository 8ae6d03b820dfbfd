// Checkpoint directories, LeRobot's layout, read and written in this one place (train, eval, tune, export):
//   config.json               the resolved PolicyConfig ("type" = the head)
//   model.safetensors         the weights (EMA weights for a training run)
//   stats.json                the normalizer
//   train_state.safetensors   a training run's resume state: raw weights, optimizer moments, RNG, position
// A run directory of `nfp train` holds its checkpoint in RUN/checkpoint; every function taking a directory accepts
// either. Writes are atomic: a checkpoint is staged under a temporary name and renamed into place, and
// config.json is replaced through a temporary file, so a killed run never leaves a half-written checkpoint.
//   nfp::Policy p = nfp::load_policy("runs/push");
#pragma once
#include <torch/torch.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "nfp/policy.hpp"

namespace nfp {

// The directory holding config.json: `dir` itself or dir/checkpoint (a run directory); nfp::Error if neither.
std::filesystem::path checkpoint_dir(const std::filesystem::path& dir);

// Builds the policy of a checkpoint, in eval mode, on `device` (read onto the CPU, then moved: nfp/device.hpp).
Policy load_policy(const std::filesystem::path& dir, torch::Device device = torch::kCPU);
PolicyConfig read_policy_config(const std::filesystem::path& dir);
// Replaces only config.json (atomically); weights and statistics are untouched (`nfp tune --apply`).
void write_policy_config(const std::filesystem::path& dir, const PolicyConfig& config);

// What a training run needs to continue exactly where it stopped, as named tensors and string metadata; the
// trainer decides the names ("param/...", "adam_...", "rng/...").
struct TrainState {
  std::map<std::string, torch::Tensor> tensors;
  std::map<std::string, std::string> metadata;
};

// Writes config.json, model.safetensors and stats.json of `policy` into `dir` (a new checkpoint directory, staged,
// then renamed over any previous one); with `state`, train_state.safetensors too. Tensors on any device are
// written from CPU copies, so the checkpoint loads anywhere.
void save_checkpoint(const PolicyImpl& policy, const std::filesystem::path& dir, const TrainState* state = nullptr);
TrainState load_train_state(const std::filesystem::path& dir);

// A run's checkpoint history (LeRobot's checkpoints/<step>/ and last): `checkpoint` (a complete checkpoint
// directory) becomes history/<step> (files hard-linked, copied where links fail; staged, then renamed),
// history/last points at it (a relative symlink, replaced atomically), and all but the newest `keep` steps are
// removed. keep <= 0: nothing is kept.
void add_to_history(const std::filesystem::path& checkpoint, const std::filesystem::path& history, int64_t step,
                    int64_t keep);
// The steps held in `history`, ascending.
std::vector<int64_t> history_steps(const std::filesystem::path& history);

}  // namespace nfp
