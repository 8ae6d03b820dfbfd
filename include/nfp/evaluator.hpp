// Policy rollouts in the simulated task suite and LeRobot's eval_info.json (with the monitor's scores and alarms when
// asked, and perturbations for the failure benchmark):
//   {"per_episode": [{episode_ix, seed, sum_reward, max_reward, success, steps, actions_fnv1a[, goal, instruction]}, ...],
//    (actions_fnv1a: FNV-1a of the executed actions' float bytes, to check that two runs acted bit-identically)
//    "aggregated": {avg_sum_reward, avg_max_reward, pc_success (percent), eval_s, eval_ep_s,
//                   chunk_latency_ms_p50, chunk_latency_ms_p99, mean_log_prob, chunks
//                   [, per_goal: [{goal, instruction, episodes, pc_success}, ...] on language-conditioned tasks]},
//    "task", "checkpoint", "inference": {...}, "n_action_steps"[, "video_paths": [MP4 path, ...] with a video_dir]}
// Image policies get the cameras they were trained on, rendered at their training size.
// Episode i starts from reset(seed + i); use seeds disjoint from the ones the demonstrations were collected on
// (the docs use collection seeds 0.. and evaluation seeds 100000..).
#pragma once
#include <filesystem>
#include <functional>
#include <optional>
#include <string>

#include "nfp/agent.hpp"
#include "nfp/json_io.hpp"
#include "nfp/embedding_monitor.hpp"
#include "nfp/monitor.hpp"
#include "nfp/perturbation.hpp"
#include "nfp/policy.hpp"

namespace nfp {

struct EvalOptions {
  std::string task;
  int64_t episodes = 50;
  uint64_t seed = 100000;
  std::filesystem::path video_dir;  // non-empty: MP4 of the first `video_episodes` episodes (top camera)
  int64_t video_episodes = 4;
  int64_t max_steps = 0;            // 0: the task's limit
  // Replaces the task's instruction in every observation (probe what the policy listens to; "" blanks it).
  std::optional<std::string> instruction;
  int goal = -1;                    // language-conditioned tasks: every episode on this goal; -1: drawn from the seed
  bool progress = true;
  std::function<void(int64_t done, double pc_success)> on_episode;
  // Failure benchmark: a perturbation from a control step on (nfp/perturbation.hpp).
  Perturbation perturbation;
  // Per-episode score traces (nfp/monitor.hpp: neg_logp, spread, continuation, consistency, and embedding with
  // `embedding`; one value per planned chunk, null where a score does not exist, and the control step of each chunk)
  // in per_episode[i]["scores"] / ["chunk_steps"]. evaluate_policy turns on RunnerOptions::score_continuation.
  bool scores = false;
  std::shared_ptr<const EmbeddingMonitor> embedding;  // the observation-side score (nfp/embedding_monitor.hpp)
  // The monitor (implies scores): per episode "alarm", "alarm_step", "alarm_chunk", "max_score" (its largest
  // standardized score); aggregated "monitor": its calibration's score, alpha, and nfp::DetectionMetrics.
  std::optional<MonitorCalibration> monitor;
};

// Rolls `policy` out with one runner using `run` (a checkpoint's defaults: policy->default_options()).
json evaluate_policy(const Policy& policy, const RunnerOptions& run, const EvalOptions& options);
// Rolls out any agent (a remote policy server's client, say) described by `spec`; the same eval_info.json.
json evaluate_agent(Agent& agent, const AgentSpec& spec, const EvalOptions& options);
inline json evaluate_policy(const Policy& policy, const EvalOptions& options) {
  return evaluate_policy(policy, policy->default_options(), options);
}

// From an eval_info.json evaluated with scores (src/eval/monitor_traces.cpp): the successful episodes' traces of
// `score` (what calibrate_monitor takes), and every episode as the calibration `c` detects it (alarm, its step,
// the largest standardized score). nfp::Error when the file holds no such scores.
std::vector<ScoreTrace> successful_traces(const json& eval_info, const std::string& score);
std::vector<DetectionEpisode> detection_episodes(const json& eval_info, const MonitorCalibration& c);
// One per_episode entry of such a file, as `c` detects it.
DetectionEpisode detection_episode(const json& episode, const MonitorCalibration& c);

// p-th percentile (0..100) by linear interpolation; NaN for an empty list.
double percentile(std::vector<double> values, double p);

}  // namespace nfp
