// The flow's likelihood as a safety monitor: per-chunk scores, split-conformal time-varying thresholds calibrated on
// successful rollouts only (FAIL-Detect's recipe), alarms, and the episode-level detection metrics the
// failure-detection literature reports. Torch-free: the evaluator, the server and a robot-side loop share it.
//   nfp::MonitorCalibration cal = nfp::calibrate_monitor(successful_traces, 0.05, "neg_logp", 0);
//   int64_t t = nfp::first_alarm(cal, trace);     // the chunk index of the first alarm, -1 if none
// Scores (higher = less like the demonstrations):
//   neg_logp     -log p(planned chunk | observation) / D, per action dimension so tasks and horizons compare
//   spread       SBS only: std of the N candidates' log p / D (the likelihood disagreeing with itself)
//   continuation -log p(what the previous chunk still had planned | the observation its executed actions led to) / D
//                (nfp/policy.hpp's Chunk::continuation_log_prob; from the second chunk on)
//   embedding    observation side: -log q(embedding) / C under a small flow q fit on the training windows'
//                embeddings (nfp/embedding_monitor.hpp, `nfp monitor fit`); any head, likelihood or not
//   consistency  no likelihood (the baseline): mean |a - a'| between this plan and the previous one over the steps
//                both cover (STAC's temporal action consistency, Agia et al. 2024), data units
#pragma once
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "nfp/json_io.hpp"

namespace nfp {

std::vector<std::string> monitor_score_names();  // neg_logp, spread, continuation, embedding, consistency
// Throws nfp::Error naming the known scores.
void check_monitor_score(const std::string& name);

// A score trace: one value per planned chunk of an episode, in order. NaN where the score does not exist (the first
// chunk's continuation, a head without a likelihood): it never alarms. +infinity (an impossible chunk) always does.
using ScoreTrace = std::vector<double>;

// Thresholds mean_t + quantile * scale_t per chunk index t. mean / scale are fitted on one half of the successful
// calibration episodes, the quantile on the other half: the ceil((n+1)(1-alpha))-th smallest of their largest
// standardized scores (n of them), so a new successful episode, exchangeable with those, raises an alarm with
// probability at most alpha (split conformal prediction). Infinite when n is too small for alpha (then no alarm).
struct MonitorCalibration {
  std::string score = "neg_logp";
  double alpha = 0.05;
  std::vector<double> mean, scale;  // per chunk index; past the end the last entry holds
  double quantile = INFINITY;
  int64_t episodes = 0, successes = 0, fit_episodes = 0, quantile_episodes = 0;
  uint64_t seed = 0;                // the first calibration seed (provenance)
  std::string task;                 // what it was calibrated on: the task and the sampling settings, which the
  json inference = json::object();  // scores depend on (an eval with other settings must recalibrate)
  int64_t n_action_steps = 0;

  // Standardized score at chunk t: (s - mean_t) / scale_t; NaN (no score) gives -infinity, +-infinity itself.
  double standardized(size_t t, double s) const;
  double threshold(size_t t) const;  // mean_t + quantile * scale_t
};
void to_json(json& j, const MonitorCalibration& c);
void from_json(const json& j, MonitorCalibration& c);

// Fits the calibration from the successful episodes' traces of `score` (at least 2). `seed` is recorded only.
// Throws nfp::Error with fewer than 2 traces or an unknown score.
MonitorCalibration calibrate_monitor(const std::vector<ScoreTrace>& successful, double alpha, const std::string& score,
                                     uint64_t seed);
// The largest standardized score of a trace (+infinity if one value is not finite; -infinity for an empty trace).
double max_standardized(const MonitorCalibration& c, const ScoreTrace& trace);
// The first chunk index whose standardized score exceeds the quantile; -1 if none.
int64_t first_alarm(const MonitorCalibration& c, const ScoreTrace& trace);

// One evaluated episode as detection sees it.
struct DetectionEpisode {
  bool failed = false;
  double max_score = 0;     // max_standardized (what AUROC ranks)
  bool alarm = false;
  int64_t alarm_step = -1;  // the control step of the first alarm
  int64_t end_step = 0;     // the control steps the episode ran
};

// Episode-level metrics, failure = positive: AUROC of max_score (ties counted half; NaN without both classes), TPR
// (alarms among failures), TNR (no alarm among successes), balanced accuracy, the false-alarm rate, and the mean
// lead time (steps from the first alarm to the end of a failed episode, over the failed episodes that alarmed).
struct DetectionMetrics {
  int64_t failures = 0, successes = 0;
  double auroc = NAN, tpr = NAN, tnr = NAN, balanced_accuracy = NAN, false_alarm_rate = NAN, mean_lead_steps = NAN;
};
DetectionMetrics detection_metrics(const std::vector<DetectionEpisode>& episodes);
void to_json(json& j, const DetectionMetrics& m);

// The checkpoint's calibration file: DIR/monitor.json (DIR as nfp::checkpoint_dir resolves a run).
inline constexpr const char* kMonitorFile = "monitor.json";

}  // namespace nfp
