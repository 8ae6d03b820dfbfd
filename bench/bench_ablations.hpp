// `nfp bench ablations`: the papers' ablation axes on one task with jittery demonstrations.
//   NF-P (head nfp-spline): stride s in {1,2,4,8}; sampling std sigma in {0.25,0.5,0.75,1.0} (plain sampling);
//     strategy in {sample, sbs, gr}; chunk: single action (horizon 1) vs chunk (horizon 16).
//   NinA (head nina-mlp, plain sampling): action noise in {0, 0.05, 0.1}; PLU on/off; layers in {2, 6, 12}.
//   data: {10, 25, 50, 100, 200} demonstrations for nfp-spline and diffusion (MLP denoiser).
// sigma and strategy only re-evaluate one trained model. Each variant is evaluated on `eval_seeds` disjoint
// blocks of episodes (seeds 100000 + 1000 k ..) and trained `train_seeds` times; the spread across them is
// reported. Identical resolved training settings share one model. Like the suite, everything is resumable:
// OUT/models/<name>/, OUT/evals/<axis>/<value>_t<k>_e<k>.json, OUT/results.csv, OUT/results.md, OUT/*.svg.
#pragma once
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "nfp/runtime_setup.hpp"

namespace nfp::bench {

struct AblationOptions {
  std::filesystem::path out;
  std::vector<std::string> axes = {"sigma", "strategy"};  // of ablation_axes()
  std::string task = "push-two-goals";
  int demos = 100;               // the base dataset (the data axis varies it)
  int64_t steps = 800;           // training steps of every model
  int64_t episodes = 20;         // per evaluation block
  int eval_seeds = 2;            // evaluation blocks per variant
  int train_seeds = 1;           // models per training variant
  std::filesystem::path base_run;  // optional: an nfp-spline run (same task, demos) for every variant with its defaults
  int threads = kDefaultThreads;
  std::string device = "cpu";  // --device: where every model trains and evaluates
  std::string command;           // recorded in results.md
  std::function<void(const std::string&)> log;
};

std::vector<std::string> ablation_axes();  // stride, sigma, strategy, chunk, noise, plu, layers, data

// Runs (or resumes) the axes; returns {"rows": [{axis, value, head, train_seed, eval_seed, success_pc, ...}],
// "summary": [{axis, value, head, mean, std, n, min, max}]}.
nlohmann::json run_ablations(const AblationOptions& options);

}  // namespace nfp::bench
