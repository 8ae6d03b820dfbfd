// Runtime speed benchmark (bench/runtime_speed.cpp), run by `nfp bench runtime`: the libtorch-free runtime
// against libtorch eager on one core, interleaved in one process, plus the matrix-multiply roofline and the
// latency distribution of 10,000 batch-1 calls.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace nfp::bench {

struct RuntimeSpeedOptions {
  std::string checkpoint;  // a policy (flow head) or density checkpoint, exported on the fly; empty: a
                           // NinA-MLP-sized random flow
  int rounds = 30;         // interleaved timing rounds (torch / runtime, batch 1 and batch 128)
  int batch = 128;         // SBS N
  int jitter_calls = 10000;
  uint64_t seed = 0;
  // Runtime weight precisions timed side by side ("f32", "bf16", "int8", "w8a8"; libtorch is always f32).
  std::vector<std::string> weights{"f32", "bf16", "int8", "w8a8"};
};

// {"model", "kernels", "max_abs_diff", "max_abs_diff_log_prob", "torch_ms_batch1", "runtime_ms_batch1",
//  "speedup_batch1", "torch_ms_batch128", "runtime_ms_sbs128", "speedup_batch128", "sbs128_gflops",
//  "roofline_gflops", "roofline_ratio", "sbs128_gflops_best", "roofline_ratio_best", "weight_mb", "stream_gbps",
//  "batch1_floor_ms", "runtime_batch1_over_floor", "p50_us", "p99_us", "p99_over_p50", "max_us", ...,
//  "weights", "precisions": {name: the runtime's figures above at that precision}}. The top-level runtime
//  figures are f32's when f32 is listed (else the first listed precision's; "weights" names it).
nlohmann::json runtime_speed(const RuntimeSpeedOptions& options);

}  // namespace nfp::bench
