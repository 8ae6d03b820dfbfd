// `nfp bench monitor`: does the likelihood predict failure? (bench/bench_monitor.hpp)
#include <cstdio>

#include "bench_monitor.hpp"
#include "nfp/error.hpp"
#include "nfp/evaluator.hpp"
#include "nfp/monitor.hpp"
#include "nfp/sim_env.hpp"

namespace nfp::bench {

std::vector<Perturbation> default_perturbations(bool cameras, bool gripper) {
  std::vector<Perturbation> p = {{"action_noise", 10, 0.3}, {"object_shift", 10, 0.08}, {"state_noise", 0, 0.05}};
  // The lift cube is 4 cm wide: fingers stopped at 43% of their 9 cm opening barely touch it.
  if (gripper) p.push_back({"weak_gripper", 0, 0.43});
  if (cameras) p.insert(p.end(), {{"camera_noise", 5, 0.15}, {"camera_blackout", 10, 0}, {"camera_colour", 0, 1.0}});
  return p;
}

Perturbation parse_perturbation(const std::string& text) {
  Perturbation p;
  const auto a = text.find(':'), b = a == std::string::npos ? a : text.find(':', a + 1);
  require(b != std::string::npos, "perturbation '" + text + "': expected KIND:STEP:MAGNITUDE, e.g. object_shift:10:0.08");
  p.kind = text.substr(0, a);
  try {
    p.at_step = std::stoll(text.substr(a + 1, b - a - 1));
    p.magnitude = std::stod(text.substr(b + 1));
  } catch (const std::exception&) {
    throw Error("perturbation '" + text + "': STEP must be a whole number and MAGNITUDE a number");
  }
  check_perturbation(p);
  return p;
}

nlohmann::json monitor_benchmark(const Policy& policy, const RunnerOptions& run, const MonitorBenchOptions& o) {
  EvalOptions base;
  base.task = o.task.empty() ? policy->config().task : o.task;
  require(!base.task.empty(), "--task is required (the checkpoint does not record its task)");
  base.scores = true;
  base.progress = o.progress;
  base.embedding = o.embedding;
  // The scores this policy gives: the likelihood's with a flow head (the spread with SBS; the continuation when a
  // chunk outlives its re-plan), the embedding's with a fitted embedding monitor, consistency always.
  std::vector<std::string> scores;
  const bool likelihood = policy->head()->has_log_prob();
  if (likelihood) scores.push_back("neg_logp");
  if (likelihood && run.inference.strategy == "sbs") scores.push_back("spread");
  if (likelihood && run.n_action_steps < policy->config().horizon) scores.push_back("continuation");
  if (o.embedding) scores.push_back("embedding");
  scores.push_back("consistency");

  EvalOptions cal = base;
  cal.episodes = o.calibration_episodes;
  cal.seed = o.seed;
  const json cal_info = evaluate_policy(policy, run, cal);
  json out = {{"task", base.task}, {"alpha", o.alpha}, {"scores", scores},
              {"calibration_success", cal_info["aggregated"]["pc_success"]}};
  std::map<std::string, MonitorCalibration> cals;
  for (const auto& s : scores) {
    cals[s] = calibrate_monitor(successful_traces(cal_info, s), o.alpha, s, o.seed);
    cals[s].episodes = o.calibration_episodes;
    out["calibration"][s] = cals[s];
  }
  std::vector<Perturbation> conditions = {Perturbation{}};
  bool gripper = false;
  for (const auto& name : sim::task_spec(base.task).action.names) gripper = gripper || name.ends_with("gripper");
  const auto perturbed =
      o.perturbations.empty() ? default_perturbations(!policy->config().cameras.empty(), gripper) : o.perturbations;
  conditions.insert(conditions.end(), perturbed.begin(), perturbed.end());
  std::map<std::string, std::vector<DetectionEpisode>> pooled, pooled_perturbed;
  out["conditions"] = json::array();
  for (size_t k = 0; k < conditions.size(); ++k) {
    EvalOptions e = base;
    e.episodes = o.episodes;
    e.seed = o.seed + 100000 + (k ? 100000 + 10000 * uint64_t(k - 1) : 0);
    e.perturbation = conditions[k];
    const json info = evaluate_policy(policy, run, e);
    json c = {{"name", conditions[k].kind},
              {"perturbation", {{"kind", conditions[k].kind}, {"at_step", conditions[k].at_step},
                                {"magnitude", conditions[k].magnitude}}},
              {"seed", e.seed},
              {"pc_success", info["aggregated"]["pc_success"]}};
    for (const auto& s : scores) {
      const auto d = detection_episodes(info, cals[s]);
      c["metrics"][s] = detection_metrics(d);
      pooled[s].insert(pooled[s].end(), d.begin(), d.end());
      if (k) pooled_perturbed[s].insert(pooled_perturbed[s].end(), d.begin(), d.end());
    }
    out["conditions"].push_back(c);
  }
  for (const auto& s : scores) {
    out["pooled"][s] = detection_metrics(pooled[s]);
    out["perturbed"][s] = detection_metrics(pooled_perturbed[s]);
  }
  return out;
}

}  // namespace nfp::bench
