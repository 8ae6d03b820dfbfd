// Monitor calibration (split conformal, time-varying thresholds) and detection metrics (nfp/monitor.hpp).
#include "nfp/monitor.hpp"

#include <algorithm>

#include "nfp/error.hpp"

namespace nfp {

std::vector<std::string> monitor_score_names() { return {"neg_logp", "spread", "continuation", "embedding", "consistency"}; }

void check_monitor_score(const std::string& name) {
  const auto names = monitor_score_names();
  if (std::find(names.begin(), names.end(), name) == names.end()) {
    std::string known;
    for (const auto& n : names) known += (known.empty() ? "" : ", ") + n;
    throw Error("unknown monitor score " + quoted_value(name) + "; known: " + known);
  }
}

double MonitorCalibration::standardized(size_t t, double s) const {
  if (std::isnan(s)) return -INFINITY;  // no score at this chunk
  if (!std::isfinite(s)) return s;
  if (mean.empty()) return -INFINITY;
  const size_t i = std::min(t, mean.size() - 1);
  return (s - mean[i]) / scale[i];
}

double MonitorCalibration::threshold(size_t t) const {
  if (mean.empty()) return INFINITY;
  const size_t i = std::min(t, mean.size() - 1);
  return mean[i] + quantile * scale[i];
}

void to_json(json& j, const MonitorCalibration& c) {
  j = {{"score", c.score},
       {"alpha", c.alpha},
       {"mean", c.mean},
       {"scale", c.scale},
       {"quantile", std::isfinite(c.quantile) ? json(c.quantile) : json(nullptr)},
       {"episodes", c.episodes},
       {"successes", c.successes},
       {"fit_episodes", c.fit_episodes},
       {"quantile_episodes", c.quantile_episodes},
       {"seed", c.seed},
       {"task", c.task},
       {"inference", c.inference},
       {"n_action_steps", c.n_action_steps}};
}

void from_json(const json& j, MonitorCalibration& c) {
  const std::string w = "monitor calibration";
  require_known_keys(j, json_keys(json(MonitorCalibration{})), w);
  c.score = json_get(j, "score", c.score, w);
  check_monitor_score(c.score);
  c.alpha = json_get(j, "alpha", c.alpha, w);
  c.mean = json_get(j, "mean", c.mean, w);
  c.scale = json_get(j, "scale", c.scale, w);
  c.quantile = j.contains("quantile") && !j["quantile"].is_null() ? json_get(j, "quantile", 0.0, w) : INFINITY;
  c.episodes = json_get(j, "episodes", c.episodes, w);
  c.successes = json_get(j, "successes", c.successes, w);
  c.fit_episodes = json_get(j, "fit_episodes", c.fit_episodes, w);
  c.quantile_episodes = json_get(j, "quantile_episodes", c.quantile_episodes, w);
  c.seed = json_get(j, "seed", c.seed, w);
  c.task = json_get(j, "task", c.task, w);
  c.inference = j.value("inference", json::object());
  c.n_action_steps = json_get(j, "n_action_steps", c.n_action_steps, w);
  require(c.alpha > 0 && c.alpha < 1, w + ": alpha must be in (0, 1)");
  require(!c.mean.empty() && c.mean.size() == c.scale.size(), w + ": mean and scale must be non-empty and of equal length");
  for (size_t i = 0; i < c.mean.size(); ++i)
    require(std::isfinite(c.mean[i]) && c.scale[i] > 0 && std::isfinite(c.scale[i]),
            w + ": mean must be finite and scale > 0 at every chunk index");
}

MonitorCalibration calibrate_monitor(const std::vector<ScoreTrace>& successful, double alpha, const std::string& score,
                                     uint64_t seed) {
  check_monitor_score(score);
  require(alpha > 0 && alpha < 1, "monitor calibration: alpha must be in (0, 1), got " + std::to_string(alpha));
  require(successful.size() >= 2, "monitor calibration: needs at least 2 successful episodes, got " +
                                      std::to_string(successful.size()) + "; run more calibration episodes");
  MonitorCalibration c;
  c.score = score;
  c.alpha = alpha;
  c.seed = seed;
  c.successes = int64_t(successful.size());
  // Even-numbered episodes fit the band, odd-numbered ones set the quantile (in seed order: deterministic).
  std::vector<const ScoreTrace*> fit, quant;
  for (size_t i = 0; i < successful.size(); ++i) (i % 2 ? quant : fit).push_back(&successful[i]);
  c.fit_episodes = int64_t(fit.size());
  c.quantile_episodes = int64_t(quant.size());
  size_t T = 0;
  for (const auto* t : fit) T = std::max(T, t->size());
  require(T > 0, "monitor calibration: the successful episodes planned no chunk");
  // Per chunk index: mean and std over the fit episodes that reached it with a finite score; an index fewer than 3
  // episodes reached takes the previous index's band. The std is floored at 5% of the pooled std, so that a chunk
  // index where the successes happen to agree does not turn every small deviation into an alarm.
  double pooled_sum = 0, pooled_sq = 0;
  int64_t pooled_n = 0;
  for (const auto* t : fit)
    for (double v : *t)
      if (std::isfinite(v)) pooled_sum += v, pooled_sq += v * v, ++pooled_n;
  require(pooled_n >= 2, "monitor calibration: the score '" + score + "' is not defined for this policy (no finite "
                         "value); pick another score (neg_logp needs a flow head, spread needs --strategy sbs)");
  const double pooled_mean = pooled_sum / double(pooled_n);
  const double pooled_std = std::sqrt(std::max(0.0, pooled_sq / double(pooled_n) - pooled_mean * pooled_mean));
  const double floor = std::max(0.05 * pooled_std, 1e-9);
  for (size_t t = 0; t < T; ++t) {
    double s = 0, q = 0;
    int64_t n = 0;
    for (const auto* tr : fit)
      if (t < tr->size() && std::isfinite((*tr)[t])) s += (*tr)[t], q += (*tr)[t] * (*tr)[t], ++n;
    if (n < 3) {
      c.mean.push_back(t ? c.mean.back() : pooled_mean);
      c.scale.push_back(t ? c.scale.back() : std::max(pooled_std, floor));
      continue;
    }
    const double m = s / double(n);
    c.mean.push_back(m);
    c.scale.push_back(std::max(std::sqrt(std::max(0.0, q / double(n) - m * m)), floor));
  }
  std::vector<double> maxima;
  for (const auto* t : quant) maxima.push_back(max_standardized(c, *t));
  std::sort(maxima.begin(), maxima.end());
  const size_t n = maxima.size(), k = size_t(std::ceil(double(n + 1) * (1.0 - alpha)));
  c.quantile = k >= 1 && k <= n ? maxima[k - 1] : INFINITY;
  return c;
}

double max_standardized(const MonitorCalibration& c, const ScoreTrace& trace) {
  double m = -INFINITY;
  for (size_t t = 0; t < trace.size(); ++t) m = std::max(m, c.standardized(t, trace[t]));
  return m;
}

int64_t first_alarm(const MonitorCalibration& c, const ScoreTrace& trace) {
  for (size_t t = 0; t < trace.size(); ++t)
    if (c.standardized(t, trace[t]) > c.quantile) return int64_t(t);
  return -1;
}

DetectionMetrics detection_metrics(const std::vector<DetectionEpisode>& episodes) {
  DetectionMetrics m;
  int64_t tp = 0, tn = 0, lead_n = 0;
  double lead = 0;
  for (const auto& e : episodes) {
    if (e.failed) {
      ++m.failures;
      tp += e.alarm;
      if (e.alarm) lead += double(e.end_step - e.alarm_step), ++lead_n;
    } else {
      ++m.successes;
      tn += !e.alarm;
    }
  }
  if (m.failures) m.tpr = double(tp) / double(m.failures);
  if (m.successes) m.tnr = double(tn) / double(m.successes), m.false_alarm_rate = 1.0 - m.tnr;
  if (m.failures && m.successes) {
    m.balanced_accuracy = 0.5 * (m.tpr + m.tnr);
    double wins = 0;
    for (const auto& f : episodes)
      if (f.failed)
        for (const auto& s : episodes)
          if (!s.failed) wins += f.max_score > s.max_score ? 1.0 : f.max_score == s.max_score ? 0.5 : 0.0;
    m.auroc = wins / (double(m.failures) * double(m.successes));
  }
  if (lead_n) m.mean_lead_steps = lead / double(lead_n);
  return m;
}

void to_json(json& j, const DetectionMetrics& m) {
  auto num = [](double v) { return std::isfinite(v) ? json(v) : json(nullptr); };
  j = {{"failures", m.failures},   {"successes", m.successes},          {"auroc", num(m.auroc)},
       {"tpr", num(m.tpr)},        {"tnr", num(m.tnr)},                 {"balanced_accuracy", num(m.balanced_accuracy)},
       {"false_alarm_rate", num(m.false_alarm_rate)}, {"mean_lead_steps", num(m.mean_lead_steps)}};
}

}  // namespace nfp
