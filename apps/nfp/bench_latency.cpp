// `nfp bench latency`: every action head on the same context, timed interleaved (bench/bench_latency.hpp).
#include <cstdio>

#include "bench_latency.hpp"
#include "bench_plots.hpp"
#include "command.hpp"
#include "nfp/json_io.hpp"

namespace nfp::cli {
namespace {

struct LatencyArgs {
  bench::LatencyOptions o;
  std::string config, plot;
  bool json = false, no_e2e = false;
};

void setup_bench_latency(CLI::App& root) {
  auto a = std::make_shared<LatencyArgs>();
  auto* cmd = bench_command(root).add_subcommand(
      "latency", "Per-head chunk latency at batch 1 (p50/p99), parameters and FLOPs; SBS and GR for flow heads");
  cmd->add_option("--config", a->config, "JSON: task, horizon, context_dim, seconds, min_calls, warmup, candidates, "
                                         "gr_steps, heads, head_config {type: {...}}, reference, end_to_end, image_size");
  // The options a --config file may also set: the command line wins where given (CLI11 counts them).
  auto* task = cmd->add_option("--task", a->o.task, "task whose action width the heads get")->capture_default_str();
  add_threads_option(*cmd, a->o.threads);
  add_device_option(*cmd, a->o.device);
  auto* seconds = cmd->add_option("--seconds", a->o.seconds, "measuring time per row (interleaved)")->capture_default_str()
      ->check(positive_real(3600));
  auto* min_calls = cmd->add_option("--min-calls", a->o.min_calls, "timed calls per row at least")->capture_default_str()
      ->check(whole(1, 1000000));
  auto* heads = cmd->add_option("--heads", a->o.heads, "head types to include (default: all)");
  auto* candidates = cmd->add_option("--candidates", a->o.candidates, "SBS N")->capture_default_str()
      ->check(whole(1, 65536));
  auto* gr_steps = cmd->add_option("--gr-steps", a->o.gr_steps, "GR K")->capture_default_str()->check(whole(0, 100000));
  auto* image_size = cmd->add_option("--image-size", a->o.image_size, "e2e rows: camera image side (pixels)")
                        ->capture_default_str()->check(whole(8, 1024));
  cmd->add_flag("--no-e2e", a->no_e2e, "leave out the end-to-end rows (image encoder + head)");
  cmd->add_option("--plot", a->plot, "write head_latency.svg (p50 per row, log scale) into this directory");
  cmd->add_flag("--json", a->json, "print one JSON object as the last line");
  cmd->callback([=] {
    bench::LatencyOptions o = a->o;
    if (!a->config.empty()) {
      o = bench::LatencyOptions{};
      bench::apply_latency_config(read_json_file(a->config), o);
      o.threads = a->o.threads;
      o.device = a->o.device;
      if (task->count()) o.task = a->o.task;
      if (seconds->count()) o.seconds = a->o.seconds;
      if (min_calls->count()) o.min_calls = a->o.min_calls;
      if (heads->count()) o.heads = a->o.heads;
      if (candidates->count()) o.candidates = a->o.candidates;
      if (gr_steps->count()) o.gr_steps = a->o.gr_steps;
      if (image_size->count()) o.image_size = a->o.image_size;
    }
    if (a->no_e2e) o.end_to_end = false;
    const auto r = bench::head_latency(o);
    std::printf("task %s, horizon %lld, action dim %lld, context %lld, batch 1, %d thread(s), %s; ratio = p50 / %s p50\n",
                r["task"].get<std::string>().c_str(), (long long)r["horizon"].get<int64_t>(),
                (long long)r["action_dim"].get<int64_t>(), (long long)r["context_dim"].get<int64_t>(), o.threads,
                o.device.c_str(), o.reference.c_str());
    std::printf("%-34s %10s %12s %9s %9s %7s %8s\n", "head", "params", "MFLOP/chunk", "p50 ms", "p99 ms", "calls", "ratio");
    for (const auto& h : r["heads"])
      std::printf("%-34s %10lld %12.3f %9.3f %9.3f %7lld %8s\n", h["name"].get<std::string>().c_str(),
                  (long long)h["params"].get<int64_t>(), double(h["flops"].get<uint64_t>()) / 1e6,
                  h["p50_ms"].get<double>(), h["p99_ms"].get<double>(), (long long)h["calls"].get<int64_t>(),
                  h["ratio_to_flow"].is_null() ? "-" : (std::to_string(h["ratio_to_flow"].get<double>()).substr(0, 6) + "x").c_str());
    std::printf("FLOPs: %s. End to end: %s.\n", r["flops_method"].get<std::string>().c_str(),
                r["end_to_end"].get<std::string>().c_str());
    if (!a->plot.empty()) {
      const auto path = bench::write_latency_plot(r, a->plot);
      std::printf("wrote %s\n", path.string().c_str());
    }
    if (a->json) print_json_line(r.dump());
  });
}

}  // namespace

NFP_COMMAND("bench-latency", setup_bench_latency);

}  // namespace nfp::cli
