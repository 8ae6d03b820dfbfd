#include "nfp/evaluator.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>

#include "nfp/error.hpp"
#include "nfp/policy_runner.hpp"
#include "nfp/progress.hpp"
#include "nfp/sim_env.hpp"
#include "nfp/video_writer.hpp"

namespace nfp {

namespace {

constexpr uint64_t kFnvOffset = 14695981039346656037ull;

// FNV-1a over the bytes of every executed action: two runs executed bit-identical actions iff (up to a 2^-64
// collision) their digests match. Makes reproducibility checkable from eval_info.json alone.
uint64_t fnv1a(uint64_t h, const void* data, size_t bytes) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < bytes; ++i) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

std::string hex64(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

// One episode's monitor scores, one value per planned chunk (nfp/monitor.hpp), and each chunk's control step.
struct EpisodeScores {
  ScoreTrace neg_logp, spread, continuation, embedding, consistency;
  std::vector<int64_t> steps;
  std::vector<float> previous;  // the previous chunk (H x A), data units

  void add(const Chunk& c, int64_t step, const AgentSpec& spec, const EmbeddingMonitor* embedder) {
    const double D = double(spec.horizon * spec.action_dim);
    neg_logp.push_back(-c.log_prob / D);
    spread.push_back(c.log_prob_spread / D);
    continuation.push_back(-c.continuation_log_prob / D);
    embedding.push_back(embedder && c.context.defined() ? embedder->score(c.context) : NAN);
    const auto a = c.actions.contiguous();
    const float* x = a.data_ptr<float>();
    // The previous plan's rows from n_action_steps on cover the steps this plan's first rows cover.
    const int64_t A = spec.action_dim, shift = spec.n_action_steps, overlap = spec.horizon - shift;
    double diff = 0;
    if (!previous.empty() && overlap > 0) {
      for (int64_t i = 0; i < overlap * A; ++i) diff += std::abs(double(previous[size_t(shift * A + i)]) - double(x[i]));
      diff /= double(overlap * A);
    }
    consistency.push_back(diff);  // the first plan has nothing to disagree with
    previous.assign(x, x + a.numel());
    steps.push_back(step);
  }
  const ScoreTrace& trace(const std::string& score) const {
    if (score == "spread") return spread;
    if (score == "continuation") return continuation;
    if (score == "embedding") return embedding;
    if (score == "consistency") return consistency;
    return neg_logp;
  }
  // null where a score does not exist (NaN), 1e300 for +infinity (JSON has neither): read back as monitor_traces does.
  json to_json() const {
    auto values = [](const ScoreTrace& t) {
      json a = json::array();
      for (double v : t) a.push_back(std::isnan(v) ? json(nullptr) : json(std::isinf(v) ? std::copysign(1e300, v) : v));
      return a;
    };
    return {{"neg_logp", values(neg_logp)}, {"spread", values(spread)}, {"continuation", values(continuation)},
            {"embedding", values(embedding)}, {"consistency", values(consistency)}};
  }
};

}  // namespace

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  const double pos = p / 100.0 * double(v.size() - 1);
  const size_t lo = size_t(std::floor(pos)), hi = std::min(v.size() - 1, lo + 1);
  return v[lo] + (pos - double(lo)) * (v[hi] - v[lo]);
}

json evaluate_policy(const Policy& policy, const RunnerOptions& run, const EvalOptions& o) {
  RunnerOptions options = run;
  options.score_continuation = options.score_continuation || o.scores || o.monitor.has_value();
  PolicyRunner runner(policy, options);
  torch::NoGradGuard ng;
  return evaluate_agent(runner, agent_spec(*policy, run), o);
}

json evaluate_agent(Agent& agent, const AgentSpec& ps, const EvalOptions& o) {
  require(o.episodes >= 1, "eval: --episodes must be >= 1");
  const auto spec = sim::task_spec(o.task);
  require(spec.action.dim == ps.action_dim,
          "eval: task '" + o.task + "' has " + std::to_string(spec.action.dim) + "-D actions but the policy was trained on " +
              std::to_string(ps.action_dim) + "-D actions (trained on task '" + ps.task + "'?)");
  require(ps.obs_keys.size() == ps.obs_dims.size(), "eval: the policy lists " + std::to_string(ps.obs_keys.size()) +
                                                        " observation keys but " + std::to_string(ps.obs_dims.size()) +
                                                        " widths");
  for (size_t i = 0; i < ps.obs_keys.size(); ++i) {
    auto it = spec.obs_dims.find(ps.obs_keys[i]);
    require(it != spec.obs_dims.end() && it->second == ps.obs_dims[i],
            "eval: task '" + o.task + "' has no observation '" + ps.obs_keys[i] + "' of width " +
                std::to_string(ps.obs_dims[i]) + "; this policy was trained on another task ('" + ps.task + "')");
  }
  sim::EnvOptions env_options;
  const int goals = int(spec.instructions.size());
  require(o.goal < 0 || (goals > 1 && o.goal < goals),
          goals > 1 ? "eval: task '" + o.task + "' has goals 0.." + std::to_string(goals - 1) + ", got " + std::to_string(o.goal)
                    : "eval: task '" + o.task + "' has one goal; --goal is for language-conditioned tasks (multi-task)");
  env_options.goal = o.goal;
  for (const auto& key : ps.cameras) {
    const auto cam = camera_name(key);
    require(cam.has_value(), "eval: camera key '" + key + "' is not a simulator camera (<camera>" + kImageSuffix + ")");
    require(std::find(spec.cameras.begin(), spec.cameras.end(), *cam) != spec.cameras.end(),
            "eval: task '" + o.task + "' has no camera '" + *cam + "' (the policy was trained on it)");
    env_options.cameras.push_back(*cam);
  }
  if (!ps.cameras.empty()) {  // rendered at the size the cameras had in training; the runner resizes and crops
    require(ps.image_hw.size() == 2 && ps.image_hw[0] == ps.image_hw[1],
            "eval: the simulator renders square images; this policy was trained on non-square ones");
    env_options.images = true;
    env_options.image_size = int(ps.image_hw[0]);
  }
  auto env = sim::make_env(o.task, env_options);
  const int64_t max_steps = o.max_steps > 0 ? o.max_steps : spec.max_steps;
  json per_episode = json::array(), video_paths = json::array();
  check_perturbation(o.perturbation);
  require(!o.monitor || o.monitor->score != "embedding" || o.embedding,
          "eval: the monitor scores embeddings; load the run's embedding monitor (nfp monitor fit) with it");
  const bool record_scores = o.scores || o.monitor.has_value();
  std::vector<DetectionEpisode> detection;  // with the monitor: each episode as it detects it
  std::vector<double> latencies, log_probs;
  double sum_rewards = 0, sum_max = 0;
  int64_t successes = 0;
  const auto t0 = std::chrono::steady_clock::now();
  Progress bar("eval " + o.task, o.episodes, o.progress);
  for (int64_t ep = 0; ep < o.episodes; ++ep) {
    const uint64_t seed = o.seed + uint64_t(ep);
    auto obs = env->reset(seed);
    const std::string episode_instruction = obs.instruction;
    agent.reset(seed);
    std::unique_ptr<VideoWriter> video;
    std::string camera = spec.cameras.empty() ? "" : spec.cameras.front();
    if (!o.video_dir.empty() && ep < o.video_episodes && !camera.empty()) {
      std::filesystem::create_directories(o.video_dir);
      auto frame = env->render(camera);
      const auto path = o.video_dir / ("episode_" + std::to_string(ep) + ".mp4");
      video = std::make_unique<VideoWriter>(path, frame.width, frame.height, int(spec.control_hz));
      video->write(frame.pixels.data());
      video_paths.push_back(path.string());
    }
    double sum_r = 0, max_r = 0;
    uint64_t digest = kFnvOffset;
    bool success = false;
    int64_t steps = 0;
    PerturbationRun perturb(o.perturbation, seed);
    EpisodeScores scores;
    int64_t held_steps = 0, first_held = -1;
    for (; steps < max_steps; ++steps) {
      if (o.instruction) obs.instruction = *o.instruction;
      perturb.before_policy(steps, *env, obs);
      const ActStep step = agent.act(obs);
      if (step.held && held_steps++ == 0) first_held = steps;
      if (step.planned) {
        latencies.push_back(step.planned->latency_s * 1e3);
        if (std::isfinite(step.planned->log_prob)) log_probs.push_back(step.planned->log_prob);
        if (record_scores) scores.add(*step.planned, steps, ps, o.embedding.get());
      }
      digest = fnv1a(digest, step.action.data(), step.action.size() * sizeof(float));
      std::vector<float> action = step.action;
      perturb.on_action(steps, spec.action, action);
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
                           {"success", success}, {"steps", steps},
                           {"actions_fnv1a", hex64(digest)}});
    if (env->goal() >= 0) {  // language-conditioned tasks: success per goal is read from these
      per_episode.back()["goal"] = env->goal();
      per_episode.back()["instruction"] = episode_instruction;
    }
    if (held_steps) {  // observations the policy could not use: it held its last action (and the monitor alarms)
      per_episode.back()["held_steps"] = held_steps;
      per_episode.back()["first_held_step"] = first_held;
    }
    if (record_scores) {
      json& e = per_episode.back();
      e["scores"] = scores.to_json();
      e["chunk_steps"] = scores.steps;
      if (o.monitor) {
        const ScoreTrace& trace = scores.trace(o.monitor->score);
        const DetectionEpisode d = detection_episode(e, *o.monitor);
        detection.push_back(d);
        e["alarm"] = d.alarm;
        e["alarm_chunk"] = first_alarm(*o.monitor, trace);
        e["alarm_step"] = d.alarm_step;
        e["max_score"] = std::isfinite(d.max_score) ? json(d.max_score) : json(d.max_score > 0 ? 1e300 : -1e300);
      }
    }
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
  if (o.monitor) {
    json m = detection_metrics(detection);
    m["score"] = o.monitor->score;
    m["alpha"] = o.monitor->alpha;
    m["alarms"] = std::count_if(detection.begin(), detection.end(), [](const auto& d) { return d.alarm; });
    agg["monitor"] = m;
  }
  if (o.perturbation.kind != "none")
    agg["perturbation"] = {{"kind", o.perturbation.kind}, {"at_step", o.perturbation.at_step},
                           {"magnitude", o.perturbation.magnitude}};
  if (goals > 1) {  // success per goal: the figure a language-conditioned policy is judged on
    json per_goal = json::array();
    for (int g = 0; g < goals; ++g) {
      int64_t n_g = 0, s_g = 0;
      for (const auto& e : per_episode)
        if (e.value("goal", -1) == g) ++n_g, s_g += e["success"].get<bool>();
      if (n_g > 0)
        per_goal.push_back({{"goal", g}, {"instruction", spec.instructions[size_t(g)]}, {"episodes", n_g},
                            {"pc_success", 100.0 * double(s_g) / double(n_g)}});
    }
    agg["per_goal"] = per_goal;
  }
  json out{{"per_episode", per_episode}, {"aggregated", agg},          {"task", o.task},
           {"seed", o.seed},               {"policy", ps.policy},        {"inference", ps.inference},
           {"n_action_steps", ps.n_action_steps}};
  if (!video_paths.empty()) out["video_paths"] = video_paths;  // LeRobot's key: the MP4s, episode order
  if (o.instruction) out["instruction_override"] = *o.instruction;
  return out;
}

}  // namespace nfp
