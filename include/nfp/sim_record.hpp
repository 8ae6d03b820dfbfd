// Recording expert demonstrations and replaying them: what `nfp collect` and `nfp replay` do, without files.
#pragma once
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "nfp/episode.hpp"
#include "nfp/sim_env.hpp"

namespace nfp {
class VideoWriter;
}

namespace nfp::sim {

struct CollectOptions {
  std::string task;
  int episodes = 10;              // successful episodes to keep
  uint64_t seed = 0;              // attempt i uses seed + i (environment and expert)
  EnvOptions env;                 // images, cameras, image size
  bool clean = false;             // no jitter or pauses in the expert
  int max_attempts = 0;           // 0: 2 x episodes + 20; more failures than that is an error
};

struct CollectResult {
  std::vector<Episode> episodes;  // the kept (successful) ones, named demo_0...
  int attempts = 0, discarded = 0;
  double mean_length = 0;         // over kept episodes
  nlohmann::json env_args;        // task spec + collection settings (data attribute env_args)
};

// Runs the task's expert until `episodes` succeed; failed episodes are discarded and counted.
// `progress(kept, attempts)` is called after each attempt.
CollectResult collect_demos(const CollectOptions& options,
                            const std::function<void(int kept, int attempts)>& progress = {});

// One expert episode as recorded: obs/actions/states/rewards/dones per step; attrs seed, success, task, clean
// and, for language-conditioned tasks, goal (the goal index).
Episode record_expert_episode(Env& env, uint64_t seed, bool clean);

struct ReplayResult {
  int steps = 0;
  bool success = false;            // the re-simulated outcome
  bool recorded_success = false;   // attrs "success" of the episode (true if absent)
  double max_state_error = 0;      // max |re-simulated - recorded| over states (0 when deterministic)
};

// Re-simulates `episode` of `task` from its stored initial state and actions, with its recorded goal (attrs
// "goal"; else the goal its seed draws). With `video`, renders `camera` before the first and after every step.
ReplayResult replay_episode(const Episode& episode, const std::string& task, VideoWriter* video = nullptr,
                            const std::string& camera = "top", int image_size = 96);

}  // namespace nfp::sim
