// `nfp bench latency`: every action head on the same context, timed interleaved in one process after warm-up.
// Heads get the suite's default policy shapes (horizon 16, 256-d context, the task's action width) and random
// weights: latency does not depend on what the weights learned. Rows: each head's one-shot sample, SBS-N and GR-K
// for the flow heads, diffusion with DDPM-100 and DDIM-10, flow matching with Euler-4 and Euler-10, regression.
// End-to-end rows (e2e-*; bench/bench_e2e.hpp): a whole image policy per chunk, timed interleaved with the head rows:
// conv encoder + nfp-spline (sample, SBS-N), + diffusion DDIM-10, + flow matching Euler-4; full-width ResNet-18
// (GroupNorm) + nfp-spline; one camera at image_size x image_size plus state, history 2.
//   nlohmann::json r = nfp::bench::head_latency({});   // {"heads": [{"name", "params", "flops", "p50_ms", ...}]}
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "nfp/runtime_setup.hpp"

namespace nfp::bench {

struct LatencyOptions {
  std::string task = "push-two-goals";  // sets the action width
  int64_t horizon = 16;                 // H (PolicyConfig default)
  int64_t context_dim = 256;            // C (PolicyConfig default)
  int threads = kDefaultThreads;
  double seconds = 2.0;                 // measuring time per row, spent in interleaved rounds
  int64_t min_calls = 5;                // per row, however long that takes
  int64_t warmup = 2;                   // untimed calls per row first
  int64_t candidates = 128;             // SBS N
  int64_t gr_steps = 10;                // GR K
  std::vector<std::string> heads;       // head types to include (empty: all)
  nlohmann::json head_overrides = nlohmann::json::object();  // {"<type>": {head config keys}}
  std::string reference = "nina-mlp";   // ratio_to_flow divides by this row's p50
  bool end_to_end = true;               // add the e2e-* rows (image encoder + head)
  int64_t image_size = 84;              // e2e: camera images are image_size x image_size (Diffusion Policy's 84)
  uint64_t seed = 0;
  std::string device = "cpu";           // --device: heads, contexts, policies and sampling there (timed to the
                                        // end of the GPU's work)
};

// Reads a --config file: {"task", "horizon", "context_dim", "seconds", "min_calls", "warmup", "candidates",
// "gr_steps", "heads": [...], "head_config": {"<type>": {...}}, "reference", "end_to_end", "image_size"};
// unknown keys throw nfp::Error.
void apply_latency_config(const nlohmann::json& j, LatencyOptions& options);

// {"task", "horizon", "action_dim", "context_dim", "threads", "reference", "flops_method",
//  "image_size", "end_to_end" (what the e2e rows time),
//  "heads": [{"name", "head", "mode", "encoder" (null for head-only rows), "params" (e2e: whole policy),
//             "flops", "p50_ms", "p99_ms", "mean_ms", "calls", "ratio_to_flow"}]}
nlohmann::json head_latency(const LatencyOptions& options);

}  // namespace nfp::bench
