// `nfp report`: one self-contained static page over training runs, their evaluations and benchmark directories,
// to be looked at rather than read. OUT/index.html + OUT/assets/ (SVG charts, copied MP4s); no network, no script,
// opens from the file system.
//   nfp::ReportOptions o;
//   o.inputs = {"build/demo"};   // run directories, eval_info.json files, `nfp bench suite|ablations` outputs, or
//   o.out = "report";            // directories holding any of those (searched a few levels down)
//   nfp::ReportSummary s = nfp::write_report(o);   // s.index == "report/index.html"
// What the page shows per run: its config, training curves (loss, validation NLL, learning rate) from metrics.csv,
// every evaluation found for it (success with a 95% Wilson interval, per goal, chunk latency p50/p99, the monitor's
// summary and score traces against its threshold), and its rollout videos: first failure, first success, then the
// other failures.
// Several evaluations: a comparison table and a success-vs-latency chart. A broken input (a run without evaluation,
// a damaged metrics.csv, a missing video, an unreadable eval file) is said on the page where it belongs; only a
// path that does not exist, or inputs holding nothing to report, is an error.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace nfp {

struct ReportOptions {
  std::vector<std::filesystem::path> inputs;
  std::filesystem::path out;  // a directory, staged and moved into place complete (nfp/atomic_file.hpp StagedDir)
  std::string title = "nfp report";
  std::string command;        // shown on the page (how it was made)
  int64_t max_videos = 6;     // per evaluation
};

struct ReportSummary {
  std::filesystem::path index;  // OUT/index.html
  int64_t runs = 0, evals = 0, videos = 0, benches = 0;
  std::vector<std::string> problems;  // what the page says is missing or damaged, one line each
};

// Throws nfp::Error when an input does not exist or nothing reportable is found; OUT is then left as it was.
ReportSummary write_report(const ReportOptions& options);

// The 95% Wilson score interval of a success rate, in percent: {lo, hi}; {0, 100} with no trials.
struct PercentInterval {
  double lo = 0, hi = 100;
};
PercentInterval wilson_interval(int64_t successes, int64_t trials, double z = 1.959963984540054);

}  // namespace nfp
