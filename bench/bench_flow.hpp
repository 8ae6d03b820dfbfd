// Benchmarks of the flow core: the speed of a batched flow pass (`nfp bench flow`) and how close fitted flows
// get to the true entropy of the toy densities (`nfp bench density`), and the wall time of `nfp density fit` on a
// loaded machine (`nfp bench density-speed`).
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "nfp/flow.hpp"
#include "nfp/runtime_setup.hpp"

namespace nfp::bench {

// The reference flow of NinA-MLP's size: 18 affine layers, hidden 256, PLU, 10x7 chunk, 256-d context.
// Inline, so a bench program can use it without the nfp_bench library.
inline FlowConfig nina_mlp_sized_flow() {
  FlowConfig c;
  c.dim = 70;
  c.tokens = 10;
  c.context_dim = 256;
  c.coupling = "affine";
  c.layers = 18;
  c.conditioner.hidden = 256;
  c.plu = true;
  return c;
}

struct FlowSpeedOptions {
  int threads = kDefaultThreads;
  int64_t batch = 128;     // the batched pass (SBS-sized)
  double seconds = 3.0;    // measuring time per model and batch size, interleaved
};
// NinA-MLP-sized (18 affine layers, hidden 256, PLU, 10x7 chunk, 256-d context) and NF-P-sized (10 spline
// layers) flows with random weights: sample latency at batch 1 and `batch`, and log_prob at `batch`.
nlohmann::json flow_speed(const FlowSpeedOptions& options);

struct DensityQualityOptions {
  std::vector<std::string> toys = {"8-gaussians", "checkerboard"};
  std::vector<std::string> flows = {"spline", "affine"};
  int64_t steps = 3000, batch = 512, samples = 20000;  // as the docs/RESULTS.md density runs
  uint64_t seed = 0;
};
// Fits each flow to each toy and reports test NLL - true entropy (nats/sample).
nlohmann::json density_quality(const DensityQualityOptions& options);

struct DensitySpeedOptions {
  std::string nfp_binary;   // the `nfp` executable to time (empty: this process's own)
  std::string toy = "8-gaussians";
  int64_t steps = 60, samples = 20000;  // the issue-22 setting: 20,000 samples (fewer steps: a short benchmark)
  bool spinning = true;     // also time --threads 2 with libgomp's default spinning (GOMP_SPINCOUNT=300000)
  int repeats = 2;          // interleaved rounds; each case keeps its fastest
  int busy = -1;            // competing spinning processes (-1: one per core but one)
  double max_seconds = 110; // the whole benchmark is stopped past this (and the busy processes end by then)
  uint64_t seed = 0;
};
// `nfp density fit` (child processes, wall clock) with the other cores busy: the default vs --threads 1 and 2, and
// --data (CSVs of exactly the --toy samples) vs --toy. Ratios measured in one run; "pass" is the issue-22 floor
// (default within 1.3x of the best, --data within 1.3x of --toy).
nlohmann::json density_speed(const DensitySpeedOptions& options);

}  // namespace nfp::bench
