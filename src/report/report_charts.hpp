// The report's charts as SVG text (nfp/svg_chart.hpp): each returns "" when there is nothing to draw.
#pragma once
#include <string>
#include <vector>

#include "nfp/json_io.hpp"
#include "report_inputs.hpp"

namespace nfp::report {

// Training loss and validation NLL (valid_loss) against the step, from metrics.csv.
std::string loss_chart(const MetricRows& metrics);
// The learning rate against the step.
std::string lr_chart(const MetricRows& metrics);

struct SuccessLatency {
  std::string label;
  double latency_ms = 0, success_pc = 0, lo = 0, hi = 100;  // p50 chunk latency; success with its interval
};
// Success against chunk latency (log scale), one point per evaluation, with its interval as a whisker.
std::string success_latency_chart(const std::vector<SuccessLatency>& points);

// The monitor's score per planned chunk against the control step for the first failures and successes of an
// evaluation run with --monitor, and the calibrated threshold when `calibration` (checkpoint/monitor.json) is
// for the same score.
std::string monitor_chart(const json& eval_info, const json& calibration);

}  // namespace nfp::report
