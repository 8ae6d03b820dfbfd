// One cell of a benchmark matrix: demonstrations -> a trained policy -> an evaluation, each step skipped when
// its result file already exists (so `nfp bench suite` and `nfp bench ablations` resume where they stopped).
// Result files are written atomically; a training cut off midway leaves no cell.json and is redone.
#pragma once
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "nfp/policy.hpp"
#include "nfp/runtime_setup.hpp"
#include "nfp/sim_env.hpp"

namespace nfp::bench {

// DIR/<task>_<episodes>.hdf5: `episodes` jittered expert demonstrations on seeds seed.. (collected once); with
// env.images, DIR/<task>_<episodes>_<cameras or "all">_<size>px.hdf5 with the camera images.
std::filesystem::path ensure_demos(const std::filesystem::path& dir, const std::string& task, int episodes,
                                   uint64_t seed = 0, const sim::EnvOptions& env = {});

struct CellTraining {
  std::string head;                                  // head type
  std::filesystem::path data;
  nlohmann::json policy = nlohmann::json::object();  // PolicyConfig keys over default_policy_config(head)
  nlohmann::json train = nlohmann::json::object();   // TrainConfig keys over default_train_config(head)
  std::string task;                                  // recorded in the checkpoint
  int threads = kDefaultThreads;
  std::string device = "cpu";                        // --device (nfp/device.hpp)
};

// Trains into `run` unless run/cell.json exists; returns cell.json: {"head", "params", "steps",
// "train_wall_s", "train_cpu_s", "train_loss", "valid_loss", "policy", "train"}.
nlohmann::json train_cell(const CellTraining& spec, const std::filesystem::path& run);

struct CellEval {
  std::string task;
  InferenceOptions inference;  // strategy, sigma, candidates, gr_steps, steps
  int64_t episodes = 20;
  uint64_t seed = 100000;      // disjoint from the collection seeds
  int threads = kDefaultThreads;
  std::string device = "cpu";  // --device
};

// Evaluates run's policy unless `out` exists; returns {"pc_success", "episodes", "seed", "strategy", "sigma",
// "chunk_p50_ms", "chunk_p99_ms", "mean_log_prob", "eval_wall_s"} (also written to `out`); the evaluation's whole
// eval_info.json goes beside it (`out` with the extension .eval_info.json), for `nfp report`.
nlohmann::json eval_cell(const std::filesystem::path& run, const CellEval& spec, const std::filesystem::path& out);

}  // namespace nfp::bench
