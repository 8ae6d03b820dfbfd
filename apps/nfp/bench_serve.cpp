// `nfp bench serve`: the policy server under load on loopback (bench/bench_serve.hpp).
#include <cstdio>

#include "bench_serve.hpp"
#include "command.hpp"
#include "nfp/checkpoint.hpp"
#include "nfp/json_io.hpp"
#include "nfp/runtime_setup.hpp"

namespace nfp::cli {
namespace {

struct ServeBenchArgs {
  bench::ServeBenchOptions o;
  std::string checkpoint, out;
  int threads = kDefaultThreads;
  bool json = false, no_unbatched = false;
};

void print_mode(const char* name, const json& m) {
  std::printf("%-10s %8lld %7lld %6lld %6lld %9.2f %9.2f %10.1f %9.2f %8lld\n", name, (long long)m["replies"].get<int64_t>(),
              (long long)m["errors"].get<int64_t>(), (long long)m["lost"].get<int64_t>(),
              (long long)m["clients"].get<int64_t>(), m["rt_ms_p50"].get<double>(), m["rt_ms_p99"].get<double>(),
              m["throughput_rps"].get<double>(), m["mean_batch"].get<double>(), (long long)m["largest_batch"].get<int64_t>());
}

void setup_bench_serve(CLI::App& root) {
  auto a = std::make_shared<ServeBenchArgs>();
  auto* cmd = bench_command(root).add_subcommand(
      "serve", "A policy server under load on loopback: overhead, clients x requests, batching on vs off");
  cmd->add_option("--checkpoint", a->checkpoint, "run directory of `nfp train` to serve")->required();
  cmd->add_option("--clients", a->o.clients, "concurrent connections")->capture_default_str()->check(whole(1, 1024));
  cmd->add_option("--requests", a->o.requests, "chunk requests per client and mode")->capture_default_str()->check(whole(1, 1000000000));
  cmd->add_option("--overhead-requests", a->o.overhead_requests, "single-client round trips for the overhead figure")
      ->capture_default_str()->check(whole(1, 1000000000));
  cmd->add_option("--batch-window-ms", a->o.batch_window_ms, "dynamic batching window")->capture_default_str()->check(non_negative_real(1000));
  cmd->add_option("--max-batch", a->o.max_batch, "largest batch")->capture_default_str()->check(whole(1, 4096));
  cmd->add_flag("--no-unbatched", a->no_unbatched, "skip the batching-off comparison");
  add_threads_option(*cmd, a->threads);
  cmd->add_option("--out", a->out, "write the result JSON here");
  cmd->add_flag("--json", a->json, "print one JSON object as the last line");
  cmd->callback([a] {
    configure_threads(a->threads);
    a->o.compare_unbatched = !a->no_unbatched;
    const Policy policy = load_policy(a->checkpoint);
    json r = bench::serve_load(policy, a->o);
    r["checkpoint"] = a->checkpoint;
    r["threads"] = a->threads;
    const auto& ov = r["overhead"];
    std::printf("%s (%s, horizon %lld), %d thread(s), loopback; load %s -> %s\n", a->checkpoint.c_str(),
                r["strategy"].get<std::string>().c_str(), (long long)r["horizon"].get<int64_t>(), a->threads,
                r["load_before"].get<std::string>().c_str(), r["load_after"].get<std::string>().c_str());
    std::printf("overhead: round trip p50 %.3f ms (p99 %.3f) - in-process plan p50 %.3f ms = %.3f ms over %lld requests\n",
                ov["round_trip_ms_p50"].get<double>(), ov["round_trip_ms_p99"].get<double>(),
                ov["in_process_ms_p50"].get<double>(), ov["overhead_ms_p50"].get<double>(),
                (long long)ov["requests"].get<int64_t>());
    std::printf("%-10s %8s %7s %6s %6s %9s %9s %10s %9s %8s\n", "mode", "replies", "errors", "lost", "clients",
                "p50 ms", "p99 ms", "req/s", "mean B", "max B");
    print_mode("batched", r["batched"]);
    if (r.contains("unbatched")) {
      print_mode("unbatched", r["unbatched"]);
      std::printf("throughput batched / unbatched: %.2fx\n", r["throughput_ratio"].get<double>());
    }
    if (!a->out.empty()) write_json_file(a->out, r);
    if (a->json) print_json_line(r.dump());
  });
}

}  // namespace

NFP_COMMAND("bench-serve", setup_bench_serve);

}  // namespace nfp::cli
