#include "nfp/evaluator.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "nfp/error.hpp"
#include "nfp/progress.hpp"
#include "nfp/sim_env.hpp"
#include "nfp/video_writer.hpp"

namespace nfp {

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  const double pos = p / 100.0 * double(v.size() - 1);
  const size_t lo = size_t(std::floor(pos)), hi = std::min(v.size() - 1, lo + 1);
  return v[lo] + (pos - double(lo)) * (v[hi] - v[lo]);
}

json evaluate_policy(Policy& policy, const EvalOptions& o) {
  require(o.episodes >= 1, "eval: --episodes must be >= 1");
  const auto spec = sim::task_spec(o.task);
  const auto& pc = policy->config();
  require(spec.action.dim == pc.action_dim,
          "eval: task '" + o.task + "' has " + std::to_string(spec.action.dim) + "-D actions but the policy was trained on " +
              std::to_string(pc.action_dim) + "-D actions (trained on task '" + pc.task + "'?)");
  for (size_t i = 0; i < pc.obs_keys.size(); ++i) {
    auto it = spec.obs_dims.find(pc.obs_keys[i]);
    require(it != spec.obs_dims.end() && it->second == pc.obs_dims[i],
            "eval: task '" + o.task + "' has no observation '" + pc.obs_keys[i] + "' of width " +
                std::to_string(pc.obs_dims[i]) + "; this policy was trained on another task ('" + pc.task + "')");
  }
  policy->eval();
  torch::NoGradGuard ng;
  auto env = sim::make_env(o.task);
  const int64_t max_steps = o.max_steps > 0 ? o.max_steps : spec.max_steps;
  json per_episode = json::array();
  std::vector<double> latencies, log_probs;
  double sum_rewards = 0, sum_max = 0;
  int64_t successes = 0;
  const auto t0 = std::chrono::steady_clock::now();
  Progress bar("eval " + o.task, o.episodes, o.progress);
  for (int64_t ep = 0; ep < o.episodes; ++ep) {
    const uint64_t seed = o.seed + uint64_t(ep);
    auto obs = env->reset(seed);
    policy->reset(seed);
    std::unique_ptr<VideoWriter> video;
    std::string camera = spec.cameras.empty() ? "" : spec.cameras.front();
    if (!o.video_dir.empty() && ep < o.video_episodes && !camera.empty()) {
      std::filesystem::create_directories(o.video_dir);
      auto frame = env->render(camera);
      video = std::make_unique<VideoWriter>(o.video_dir / ("episode_" + std::to_string(ep) + ".mp4"), frame.width,
                                            frame.height, int(spec.control_hz));
      video->write(frame.pixels.data());
    }
    double sum_r = 0, max_r = 0;
    bool success = false;
    int64_t steps = 0;
    for (; steps < max_steps; ++steps) {
      const int64_t planned = policy->chunks_planned();
      auto action = policy->act(obs.lowdim);
      if (policy->chunks_planned() != planned) {
        latencies.push_back(policy->last_chunk().latency_s * 1e3);
        if (std::isfinite(policy->last_chunk().log_prob)) log_probs.push_back(policy->last_chunk().log_prob);
      }
      auto r = env->step(action);
      if (video) video->write(env->render(camera).pixels.data());
      sum_r += r.reward;
      max_r = std::max(max_r, r.reward);
      obs = std::move(r.obs);
      if (r.success) success = true;
      if (r.done) {
        ++steps;
        break;
      }
    }
    if (video) video->close();
    success = success || env->success();
    successes += success;
    sum_rewards += sum_r;
    sum_max += max_r;
    per_episode.push_back({{"episode_ix", ep}, {"seed", seed}, {"sum_reward", sum_r}, {"max_reward", max_r},
                           {"success", success}, {"steps", steps}});
    const double pc_success = 100.0 * double(successes) / double(ep + 1);
    bar.update(ep + 1, {{"success%", pc_success}});
    if (o.on_episode) o.on_episode(ep + 1, pc_success);
  }
  bar.finish();
  const double eval_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  double mean_lp = NAN;
  if (!log_probs.empty()) {
    mean_lp = 0;
    for (double v : log_probs) mean_lp += v / double(log_probs.size());
  }
  const double n = double(o.episodes);
  json agg = {{"avg_sum_reward", sum_rewards / n},
              {"avg_max_reward", sum_max / n},
              {"pc_success", 100.0 * double(successes) / n},
              {"eval_s", eval_s},
              {"eval_ep_s", eval_s / n},
              {"chunk_latency_ms_p50", percentile(latencies, 50)},
              {"chunk_latency_ms_p99", percentile(latencies, 99)},
              {"chunks", latencies.size()},
              {"mean_log_prob", std::isfinite(mean_lp) ? json(mean_lp) : json(nullptr)}};
  return json{{"per_episode", per_episode}, {"aggregated", agg}, {"task", o.task}, {"seed", o.seed},
              {"policy", pc.head.type}, {"inference", pc.inference}};
}

}  // namespace nfp
