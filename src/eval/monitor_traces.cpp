// From an eval_info.json evaluated with scores to the monitor's inputs (nfp/evaluator.hpp): one evaluation serves
// the calibration and the detection metrics of every score.
#include <cmath>

#include "nfp/error.hpp"
#include "nfp/evaluator.hpp"

namespace nfp {
namespace {

ScoreTrace trace_of(const json& episode, const std::string& score) {
  require(episode.contains("scores") && episode["scores"].contains(score),
          "eval_info.json has no '" + score + "' scores; evaluate with scores (nfp eval --monitor)");
  ScoreTrace t;
  for (const auto& v : episode["scores"][score]) t.push_back(v.is_number() ? v.get<double>() : NAN);
  return t;
}

}  // namespace

std::vector<ScoreTrace> successful_traces(const json& eval_info, const std::string& score) {
  std::vector<ScoreTrace> out;
  for (const auto& e : eval_info.at("per_episode"))
    if (e.at("success").get<bool>()) out.push_back(trace_of(e, score));
  return out;
}

DetectionEpisode detection_episode(const json& e, const MonitorCalibration& c) {
  const ScoreTrace t = trace_of(e, c.score);
  const auto steps = e.at("chunk_steps").get<std::vector<int64_t>>();
  DetectionEpisode d;
  d.failed = !e.at("success").get<bool>();
  d.max_score = max_standardized(c, t);
  const int64_t alarm = first_alarm(c, t);
  d.alarm = alarm >= 0;
  d.alarm_step = alarm >= 0 ? steps.at(size_t(alarm)) : -1;
  d.end_step = e.at("steps").get<int64_t>();
  // A held step (an observation the policy could not use) is an alarm at that step.
  const int64_t held = e.value("first_held_step", int64_t(-1));
  if (held >= 0 && (!d.alarm || held < d.alarm_step)) {
    d.alarm = true;
    d.alarm_step = held;
    d.max_score = INFINITY;
  }
  return d;
}

std::vector<DetectionEpisode> detection_episodes(const json& eval_info, const MonitorCalibration& c) {
  std::vector<DetectionEpisode> out;
  for (const auto& e : eval_info.at("per_episode")) out.push_back(detection_episode(e, c));
  return out;
}

}  // namespace nfp
