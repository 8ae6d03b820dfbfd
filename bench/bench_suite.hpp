// `nfp bench suite`: the train + evaluate matrix over tasks x heads, within a profile's stated budget.
// OUT/data/<task>_<demos>.hdf5, OUT/runs/<task>/<head>/ (checkpoint + cell.json), OUT/evals/<task>/<head>.json,
// then OUT/results.csv, OUT/results.md and OUT/latency_vs_success.svg, rewritten after every cell. A second
// run with the same OUT skips finished cells (resume after an interruption).
//   quick: push-two-goals; nfp-spline, nina-mlp, flow-matching, diffusion (MLP denoisers), regression;
//          100 demos, 800 training steps (regression 1500), 20 evaluation episodes. ~15 CPU-minutes.
//   full:  push-two-goals, lift, handover; all six heads with their default configs (UNet denoisers) and
//          default step counts; 200 demos, 50 evaluation episodes. Several CPU-hours on 2 cores.
// Flow heads are evaluated with SBS (N = 128), the others by sampling; evaluation seeds 100000.. are disjoint
// from the collection seeds 0...
#pragma once
#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "nfp/runtime_setup.hpp"

namespace nfp::bench {

struct SuiteProfile {
  std::string name;
  std::vector<std::string> tasks, heads;
  int demos = 100;
  int64_t eval_episodes = 20;
  std::map<std::string, int64_t> steps;               // head -> training steps (absent: the head's default)
  std::map<std::string, nlohmann::json> policy;       // head -> PolicyConfig overrides
  std::string budget;                                  // one line, stated in results.md
};
// "quick" | "full"; unknown names throw nfp::Error.
SuiteProfile suite_profile(const std::string& name);

struct SuiteOptions {
  std::string profile = "quick";
  std::filesystem::path out;
  std::vector<std::string> tasks, heads;  // override the profile's (empty: the profile's)
  int demos = 0;                          // > 0: override
  int64_t steps = 0;                      // > 0: every head trains this many steps
  int64_t episodes = 0;                   // > 0: override evaluation episodes
  int threads = kDefaultThreads;
  std::string device = "cpu";  // --device: where every cell trains and evaluates
  std::string command;                    // recorded in results.md
  std::function<void(const std::string&)> log;  // one line per finished step
};

// Runs (or resumes) the matrix; returns {"profile", "rows": [{task, head, strategy, success_pc, ...}]}.
nlohmann::json run_suite(const SuiteOptions& options);

}  // namespace nfp::bench
