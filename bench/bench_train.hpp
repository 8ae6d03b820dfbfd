// Data-parallel training throughput (bench/train_speed.cpp), run by `nfp bench train`: the real `nfp train`, as
// processes, for each head and each layout of ranks x threads on this machine.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace nfp::bench {

struct TrainSpeedOptions {
  std::string nfp;                          // the nfp executable to run
  std::string data;                         // demonstrations; empty: collect `episodes` of `task` first
  std::string task = "push-two-goals";
  int episodes = 100;
  std::vector<std::string> heads = {"nfp-spline", "diffusion"};
  std::vector<int> nproc = {1, 2};          // ranks x 1 thread each; plus 1 rank x max(nproc) threads
  int batch = 64;                           // per rank (the global batch grows with the ranks)
  int steps = 120;                          // per run; the first and last `log_every` are not timed
  int log_every = 10;
  int repeats = 1;                          // layouts interleaved, repeated; the median per layout
  std::string workdir;                      // runs and logs (kept when given; else a temporary folder, removed)
  bool progress = true;                     // a progress bar over the runs (stderr)
};

// {"machine", "load_before", "load_after", "batch_per_rank", "steps", "results": [{"head", "ranks", "threads",
// "global_batch", "samples_per_s", "step_ms", "allreduce_wait_ms", "allreduce_share", "allreduce_mb",
// "buckets", "speedup" (vs 1 rank x 1 thread of the head; null when --nproc does not start with 1), "runs":
// [samples_per_s...]}...]}.
// Throws nfp::Error with the failing run's command and last output line.
nlohmann::json train_speed(const TrainSpeedOptions& options);

}  // namespace nfp::bench
