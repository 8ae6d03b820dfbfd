// The failure benchmark (bench/monitor_bench.cpp), run by `nfp bench monitor`: a policy rolled out on calibration
// seeds (the monitor fitted on its successes, for every score the policy gives), then on held-out clean seeds and
// under each perturbation on seeds of its own; per score, per condition and pooled, the episode-level detection
// metrics (nfp/monitor.hpp): AUROC, TPR / TNR at the calibrated threshold, balanced accuracy, lead time.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "nfp/embedding_monitor.hpp"
#include "nfp/perturbation.hpp"
#include "nfp/policy.hpp"

namespace nfp::bench {

struct MonitorBenchOptions {
  std::string task;                 // "": the policy's
  int64_t calibration_episodes = 100;
  int64_t episodes = 40;            // per condition (clean and each perturbation)
  uint64_t seed = 500000;           // calibration seed..; clean +100000..; perturbation k +200000 + 10000 k..
  double alpha = 0.05;
  std::vector<Perturbation> perturbations;  // empty: the defaults for the policy (camera kinds with cameras)
  bool progress = true;
  std::shared_ptr<const EmbeddingMonitor> embedding;  // scored as "embedding" when set (`nfp monitor fit`)
};

// The default perturbations: action noise, object shift, state noise, with cameras noise / blackout / colour, and
// with a gripper a weak one.
std::vector<Perturbation> default_perturbations(bool cameras, bool gripper);
// "kind:at_step:magnitude" -> Perturbation; nfp::Error naming the format.
Perturbation parse_perturbation(const std::string& text);

// {"task", "alpha", "calibration": {score: MonitorCalibration}, "conditions": [{"name", "perturbation",
//  "pc_success", "metrics": {score: DetectionMetrics}}], "pooled": {score: DetectionMetrics over every condition},
//  "perturbed": {score: over the perturbed conditions}}
nlohmann::json monitor_benchmark(const Policy& policy, const RunnerOptions& run, const MonitorBenchOptions& o);

}  // namespace nfp::bench
