// `nfp bench runtime`: the libtorch-free runtime against libtorch eager (one core), roofline, jitter.
#include <cstdio>

#include "bench_runtime.hpp"
#include "command.hpp"
#include "nfp/error.hpp"

namespace nfp::cli {
namespace {

void run_bench_runtime(const nfp::bench::RuntimeSpeedOptions& o, bool json) {
  const nlohmann::json r = nfp::bench::runtime_speed(o);
  std::printf("runtime (%s weights) vs libtorch eager, 1 thread, kernels %s (%s)\n",
              r["weights"].get<std::string>().c_str(), r["kernels"].get<std::string>().c_str(),
              r["model"]["source"].get<std::string>().c_str());
  std::printf("  agreement on the same latents: max |a - a_torch| %.2e, max |log p - log p_torch| %.2e\n",
              r["max_abs_diff"].get<double>(), r["max_abs_diff_log_prob"].get<double>());
  std::printf("  batch 1:   torch %8.3f ms   runtime %8.3f ms   speed-up %6.1fx\n", r["torch_ms_batch1"].get<double>(),
              r["runtime_ms_batch1"].get<double>(), r["speedup_batch1"].get<double>());
  std::printf("  batch-1 floor: %.1f MB of weights at %.1f GB/s streamed = %.3f ms; runtime at %.2fx the floor\n",
              r["weight_mb"].get<double>(), r["stream_gbps"].get<double>(), r["batch1_floor_ms"].get<double>(),
              r["runtime_batch1_over_floor"].get<double>());
  std::printf("  batch %d: torch %8.3f ms   runtime SBS %8.3f ms   speed-up %6.1fx\n", r["batch"].get<int>(),
              r["torch_ms_batch128"].get<double>(), r["runtime_ms_sbs128"].get<double>(),
              r["speedup_batch128"].get<double>());
  std::printf("  SBS: %.3f GFLOP at %.1f GFLOP/s; matmul roofline %.1f GFLOP/s (OpenBLAS %.1f, runtime kernel %.1f): %.2fx off\n",
              r["sbs128_gflop"].get<double>(), r["sbs128_gflops"].get<double>(), r["roofline_gflops"].get<double>(),
              r["roofline_openblas_gflops"].get<double>(), r["roofline_runtime_kernel_gflops"].get<double>(),
              r["roofline_ratio"].get<double>());
  std::printf("  SBS best round: %.1f GFLOP/s, %.2fx off the (best-of) roofline\n", r["sbs128_gflops_best"].get<double>(),
              r["roofline_ratio_best"].get<double>());
  std::printf("  latency of %d batch-1 samples: p50 %.1f us, p99 %.1f us (p99/p50 %.2f), max %.1f us\n",
              r["calls"].get<int>(), r["p50_us"].get<double>(), r["p99_us"].get<double>(),
              r["p99_over_p50"].get<double>(), r["max_us"].get<double>());
  std::printf("  in thread CPU time (scheduler shares excluded): batch-1 speed-up %.1fx; SBS %.1f GFLOP/s, %.2fx off the "
              "roofline (%.1f GFLOP/s); p99/p50 %.2f\n",
              r["cpu_speedup_batch1"].get<double>(), r["cpu_sbs128_gflops"].get<double>(),
              r["cpu_roofline_ratio"].get<double>(), r["cpu_roofline_gflops"].get<double>(),
              r["cpu_p99_over_p50"].get<double>());
  std::printf("  per weight precision (libtorch f32 batch 1: %.3f ms wall, %.3f ms CPU):\n", r["torch_ms_batch1"].get<double>(),
              r["cpu_torch_ms_batch1"].get<double>());
  std::printf("    %-5s %8s %8s %8s %8s %9s %9s %8s %8s %7s %7s\n", "", "MB", "b1 ms", "b1 CPU", "speedup", "CPU spdup",
              "SBS ms", "|da|", "|dlogp|", "p99/50", "CPU");
  for (const auto& [name, p] : r["precisions"].items())
    std::printf("    %-5s %8.1f %8.3f %8.3f %7.1fx %8.1fx %9.2f %8.1e %8.1e %7.2f %7.2f\n", name.c_str(),
                p["weight_mb"].get<double>(), p["runtime_ms_batch1"].get<double>(), p["cpu_runtime_ms_batch1"].get<double>(),
                p["speedup_batch1"].get<double>(), p["cpu_speedup_batch1"].get<double>(),
                p["runtime_ms_sbs128"].get<double>(), p["max_abs_diff"].get<double>(),
                p["max_abs_diff_log_prob"].get<double>(), p["p99_over_p50"].get<double>(),
                p["cpu_p99_over_p50"].get<double>());
  if (r.contains("whole_policy")) {
    const auto& w = r["whole_policy"];
    std::printf("  whole policy, batch 1 (libtorch PolicyImpl::predict vs runtime observe + call; %s%s):\n",
                w["cameras"].empty() ? "no cameras" : ("cameras " + w["cameras"].dump()).c_str(),
                w["instruction"].get<std::string>().empty() ? "" : ", with the task's instruction");
    std::printf("    one sample: torch %8.3f ms   runtime %8.3f ms   speed-up %6.1fx\n", w["torch_ms_sample"].get<double>(),
                w["runtime_ms_sample"].get<double>(), w["speedup_sample"].get<double>());
    std::printf("    SBS-16:     torch %8.3f ms   runtime %8.3f ms   speed-up %6.1fx\n", w["torch_ms_sbs16"].get<double>(),
                w["runtime_ms_sbs16"].get<double>(), w["speedup_sbs16"].get<double>());
    std::printf("    encoders:   torch %8.3f ms   runtime %8.3f ms   speed-up %6.1fx\n", w["torch_ms_encode"].get<double>(),
                w["runtime_ms_observe"].get<double>(), w["speedup_encode"].get<double>());
  }
  if (json) print_json_line(r.dump());
}

void setup_bench_runtime(CLI::App& root) {
  auto o = std::make_shared<nfp::bench::RuntimeSpeedOptions>();
  auto json = std::make_shared<bool>(false);
  CLI::App* cmd = bench_command(root).add_subcommand(
      "runtime", "The libtorch-free runtime vs libtorch eager: speed-up, roofline, latency jitter");
  cmd->add_option("--checkpoint", o->checkpoint,
                  "Policy (flow head) or density checkpoint directory (default: a NinA-MLP-sized random flow)");
  cmd->add_option("--rounds", o->rounds, "Interleaved timing rounds")->check(whole(1, 100000));
  cmd->add_option("--batch", o->batch, "SBS samples (the batch compared with torch)")->check(whole(1, 65536));
  cmd->add_option("--calls", o->jitter_calls, "Batch-1 calls for the latency distribution")->check(whole(1, 100000000));
  auto weights = std::make_shared<std::string>("f32,bf16,int8,w8a8");
  cmd->add_option("--weights", *weights,
                  "Runtime weight precisions, comma-separated: f32, bf16, int8, w8a8 (libtorch is always f32)")
      ->capture_default_str();
  cmd->add_flag("--json", *json, "Print one JSON object as the last line");
  cmd->callback([o, json, weights] {
    o->weights = split_commas(*weights);
    for (const auto& w : o->weights)
      if (w != "f32" && w != "bf16" && w != "int8" && w != "w8a8")
        throw nfp::Error("--weights: unknown precision '" + w + "'; expected f32, bf16, int8 or w8a8");
    run_bench_runtime(*o, *json);
  });
}

}  // namespace
NFP_COMMAND("bench-runtime", setup_bench_runtime);
}  // namespace nfp::cli
