// Trains a policy on a demonstration dataset. A run directory RUN holds
//   RUN/checkpoint/   config.json (policy config, "type" = head), model.safetensors (EMA weights, used by eval),
//                     stats.json (normalizer), train_state.safetensors (raw weights, AdamW moments, RNG states;
//                     metadata: step, epoch, batch) — written as one atomic directory every checkpoint_every steps
//                     and at the end, so a killed run keeps its last complete checkpoint
//   RUN/checkpoints/<step>/, RUN/checkpoints/last   the newest keep_checkpoints of them (hard links), to
//                     evaluate (`nfp eval --checkpoint RUN/checkpoints/2000`) or resume from (resume_from)
//   RUN/train_config.json   the resolved {"policy": ..., "train": ..., "data": ...}
//   RUN/metrics.csv         step, loss, lr, valid_loss, it_s, elapsed_s (rewritten with each checkpoint)
// --resume continues from RUN/checkpoint exactly: same batches, noise draws and updates (bit for bit with
// deterministic = true and the same thread count).
#pragma once
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "nfp/json_io.hpp"
#include "nfp/optim.hpp"
#include "nfp/distributed.hpp"
#include "nfp/policy.hpp"
#include "nfp/runtime_setup.hpp"

namespace nfp {

struct TrainConfig {
  int64_t steps = 3000;
  int64_t batch = 256;
  double lr = 1e-3;
  AdamWOptions adamw;
  ScheduleOptions schedule;
  double ema = 0.999;              // EMA decay of the evaluation weights (0: EMA off, eval uses raw weights)
  double clip_grad = 1.0;          // global gradient-norm clip (0: off)
  int64_t checkpoint_every = 1000;
  int64_t keep_checkpoints = 5;    // RUN/checkpoints/<step>/ kept beside RUN/checkpoint (the last); 0: none
  int64_t validate_every = 500;    // validation loss (NLL for flow heads) on the held-out episodes, EMA weights
  int64_t log_every = 50;          // metrics.csv rows
  // Episodes: robomimic / LIBERO masks (lists of demo names under mask/<name>). filter: the training episodes,
  // "auto" = mask/train when every file has one, "none" = every episode, or a mask's name. valid_filter: the
  // validation episodes, "auto" = mask/valid when training episodes come from a mask and every file has one,
  // else "fraction" = a seeded valid_fraction of the training episodes; "none" = no validation; or a mask's name.
  // train_config.json records what they resolved to.
  std::string filter = "auto";
  std::string valid_filter = "auto";
  double valid_fraction = 0.1;     // episodes held out for validation when no mask says which
  uint64_t seed = 0;
  bool deterministic = false;
  int threads = kDefaultThreads;   // torch intra-op threads (nfp/runtime_setup.hpp)
};
void to_json(json& j, const TrainConfig& c);
void from_json(const json& j, TrainConfig& c);  // partial objects override the current values

// Defaults that work on the low-dim task suite without flags, per head type.
TrainConfig default_train_config(const std::string& head_type);
PolicyConfig default_policy_config(const std::string& head_type);

struct TrainRequest {
  std::string data;                 // dataset spec (file, directory or glob)
  std::filesystem::path out;        // run directory
  PolicyConfig policy;              // obs keys / dims / action_dim are filled in from the data
  TrainConfig train;
  bool resume = false;              // continue RUN/checkpoint (policy and data from RUN/train_config.json)
  int64_t resume_steps = 0;         // with resume: new total steps (0: as configured)
  std::filesystem::path resume_from;  // with resume: one of the run's checkpoints (RUN/checkpoints/<step>); empty:
                                      // the last (RUN/checkpoint)
  bool progress = true;
  // cpu | cuda | cuda:N (nfp/device.hpp): the model, its batches and the training noise live there; checkpoints
  // are written from CPU copies. Not part of the run's config: a run may resume on another device (then exactly
  // as on the first only where both are the CPU: each device has its own random streams).
  std::string device = "cpu";
  // Called after each step (tests): step (1-based), loss
  std::function<void(int64_t, double)> on_step;
  // Polled after each step: true -> checkpoint at this step and return early with `interrupted` set
  // (`nfp train` sets it on SIGINT / SIGTERM, so Ctrl-C or a cluster's preemption loses no work).
  std::function<bool()> stop_requested;
  // Data-parallel (nfp/distributed.hpp; `nfp train` reads torchrun's variables): every rank runs the same request;
  // each takes its slice of every global batch (train.batch per rank), gradients are averaged over the ranks before
  // each step, and only rank 0 writes the run directory. The CPU only (Gloo) in this build.
  DistEnv dist;
  double dist_timeout_s = 300;  // a rank missing this long ends the others with an error
  // After every step the ranks compare a checksum of their weights and EMA weights (exact: the bit patterns) and
  // stop with an error naming the rank that differs (two small collectives a step; a debugging aid).
  bool dist_check = false;
};

struct TrainResult {
  int64_t steps = 0;                // the run's total
  int64_t steps_run = 0;            // taken by this call (0: a resumed run already at --steps)
  double seconds = 0;
  double train_loss = NAN;          // mean over the last log_every steps
  double valid_loss = NAN;          // last validation figure
  int64_t parameters = 0;
  std::filesystem::path checkpoint;
  bool interrupted = false;         // stopped by stop_requested before the configured steps
  std::string data_split;           // one line: which episodes trained and which validated
  std::vector<std::string> obs_keys, cameras;  // the observations the policy reads (resolved, see observation_setup)
  std::vector<int64_t> image_hw;               // with cameras: the size the encoder sees
  ImagePreprocess image_preprocess;            // with cameras: resize at load, crop
  // Data-parallel runs: the gradient bytes all-reduced per step, in how many buckets, and the time this rank
  // waited for them after its backward passes (the communication the overlap did not hide), over steps_run steps.
  int64_t allreduce_bytes = 0, allreduce_buckets = 0;
  double allreduce_wait_s = 0;
};

TrainResult train_policy(const TrainRequest& request);

}  // namespace nfp
