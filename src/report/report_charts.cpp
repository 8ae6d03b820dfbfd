// The report's charts: training curves, success against latency, and the monitor's score traces (SVG text).
#include "report_charts.hpp"

#include <algorithm>
#include <cmath>

#include "nfp/monitor.hpp"
#include "nfp/svg_chart.hpp"

namespace nfp::report {
namespace {

constexpr size_t kMaxPoints = 500;     // per curve: a long run's metrics are thinned evenly (the last row kept)
constexpr int kTracesPerOutcome = 2;   // monitor traces drawn: the first failures and the first successes
constexpr double kImpossible = 1e299;  // eval_info.json writes +infinity (an impossible chunk) as 1e300

// x against y with the finite points only, thinned to kMaxPoints.
LineSeries series(const std::string& name, const std::vector<double>& x, const std::vector<double>& y) {
  LineSeries s{name, {}, {}, {}, {}};
  for (size_t i = 0; i < x.size() && i < y.size(); ++i)
    if (std::isfinite(x[i]) && std::isfinite(y[i])) s.x.push_back(x[i]), s.y.push_back(y[i]);
  if (s.x.size() > kMaxPoints) {
    LineSeries t{name, {}, {}, {}, {}};
    const double stride = double(s.x.size() - 1) / double(kMaxPoints - 1);
    for (size_t k = 0; k < kMaxPoints; ++k) {
      const size_t i = std::min(s.x.size() - 1, size_t(std::llround(double(k) * stride)));
      t.x.push_back(s.x[i]), t.y.push_back(s.y[i]);
    }
    return t;
  }
  return s;
}

double number_or_nan(const json& v) { return v.is_number() ? v.get<double>() : NAN; }

}  // namespace

std::string loss_chart(const MetricRows& m) {
  const auto step = m.column("step");
  LineChart c{"Training loss and validation NLL", "training step", "loss (nats per action dimension)", {}, false, false};
  for (const auto& [column, name] : {std::pair{"loss", "train loss"}, std::pair{"valid_loss", "validation NLL"}}) {
    auto s = series(name, step, m.column(column));
    if (!s.x.empty()) c.series.push_back(std::move(s));
  }
  return c.series.empty() ? "" : svg_line_chart(c);
}

std::string lr_chart(const MetricRows& m) {
  auto s = series("learning rate", m.column("step"), m.column("lr"));
  if (s.x.empty()) return "";
  return svg_line_chart({"Learning rate", "training step", "learning rate", {std::move(s)}, false, false});
}

std::string success_latency_chart(const std::vector<SuccessLatency>& points) {
  LineChart c{"Success against latency", "chunk latency p50 (ms, log scale)", "success (%, 95% interval)", {}, true, true};
  for (const auto& p : points) {
    if (!(p.latency_ms > 0) || !std::isfinite(p.success_pc)) continue;
    c.series.push_back({p.label, {p.latency_ms}, {p.success_pc}, {p.lo}, {p.hi}});
  }
  return c.series.empty() ? "" : svg_line_chart(c);
}

std::string monitor_chart(const json& info, const json& calibration) {
  const json& m = member(member(info, "aggregated"), "monitor");
  if (!m.is_object() || !member(info, "per_episode").is_array()) return "";
  const std::string score = m.value("score", std::string("neg_logp"));
  LineChart c{"Monitor score (" + score + ") per planned chunk", "control step", score + " (higher = less like the demonstrations)",
              {}, false, true};
  int failures = 0, successes = 0;
  std::vector<double> longest_steps;
  for (const auto& e : info["per_episode"]) {
    if (!e.is_object() || !e.contains("scores") || !e["scores"].contains(score) || !e.contains("chunk_steps")) continue;
    const bool ok = e.value("success", false);
    int& drawn = ok ? successes : failures;
    if (drawn >= kTracesPerOutcome) continue;
    ++drawn;
    std::vector<double> x, y;
    for (const auto& s : e["chunk_steps"]) x.push_back(number_or_nan(s));
    for (const auto& v : e["scores"][score]) {
      const double d = number_or_nan(v);
      y.push_back(d >= kImpossible ? NAN : d);  // an impossible chunk is off the chart; its alarm is in the name
    }
    if (x.size() > longest_steps.size()) longest_steps = x;
    // short: the legend has ~25 characters of room
    std::string name = "ep " + std::to_string(e.value("episode_ix", 0)) + (ok ? " success" : " failure");
    if (e.contains("alarm_step") && e["alarm_step"].is_number_integer() && e["alarm_step"].get<int64_t>() >= 0)
      name += ", alarm @" + std::to_string(e["alarm_step"].get<int64_t>());
    c.series.push_back(series(name, x, y));
  }
  if (c.series.empty()) return "";
  if (calibration.is_object() && calibration.value("score", std::string()) == score) {
    try {
      const auto cal = calibration.get<MonitorCalibration>();
      if (std::isfinite(cal.quantile)) {
        std::vector<double> t;
        for (size_t i = 0; i < longest_steps.size(); ++i) t.push_back(cal.threshold(i));
        c.series.push_back(series("threshold (alpha " + std::to_string(cal.alpha).substr(0, 4) + ")", longest_steps, t));
      }
    } catch (const std::exception&) {  // a damaged monitor.json: the traces alone (the run's problems say why)
    }
  }
  return svg_line_chart(c);
}

}  // namespace nfp::report
