// `nfp bench flow` (speed of a batched flow pass) and `nfp bench density` (fitted NLL vs the true entropy).
#include <cstdio>

#include "bench_flow.hpp"
#include "command.hpp"

namespace nfp::cli {
namespace {

void setup_bench_flow(CLI::App& root) {
  auto o = std::make_shared<bench::FlowSpeedOptions>();
  auto json = std::make_shared<bool>(false);
  auto* cmd = bench_command(root).add_subcommand(
      "flow", "Latency of NinA-MLP- and NF-P-sized flows (random weights): sample at batch 1 and N, log_prob at N");
  add_threads_option(*cmd, o->threads);
  cmd->add_option("--batch", o->batch, "the batched pass's size")->capture_default_str()->check(whole(1, 1000000));
  cmd->add_option("--seconds", o->seconds, "measuring time per case (interleaved)")->capture_default_str()
      ->check(positive_real(3600));
  cmd->add_flag("--json", *json, "print one JSON object as the last line");
  cmd->callback([o, json] {
    const auto r = bench::flow_speed(*o);
    std::printf("%-28s %10s %8s %10s %10s\n", "case", "params", "calls", "p50 ms", "p99 ms");
    for (const auto& x : r["results"])
      std::printf("%-28s %10lld %8lld %10.3f %10.3f\n", x["name"].get<std::string>().c_str(),
                  static_cast<long long>(x["params"].get<int64_t>()), static_cast<long long>(x["calls"].get<int64_t>()),
                  x["p50_ms"].get<double>(), x["p99_ms"].get<double>());
    if (*json) print_json_line(r.dump());
  });
}

void setup_bench_density(CLI::App& root) {
  auto o = std::make_shared<bench::DensityQualityOptions>();
  auto json = std::make_shared<bool>(false);
  auto* cmd = bench_command(root).add_subcommand(
      "density", "Fit spline and affine flows to toy densities; report test NLL minus the true entropy");
  cmd->add_option("--toys", o->toys, "toy densities")->capture_default_str();
  cmd->add_option("--flows", o->flows, "couplings: spline, affine")->capture_default_str();
  cmd->add_option("--steps", o->steps, "optimizer steps per fit")->capture_default_str()->check(whole(1, 1000000000));
  cmd->add_option("--batch", o->batch, "batch size")->capture_default_str()->check(whole(1, 1000000));
  cmd->add_option("--samples", o->samples, "training samples")->capture_default_str()->check(whole(2, 100000000));
  cmd->add_option("--seed", o->seed, "seed")->capture_default_str()->check(seed_value());
  cmd->add_flag("--json", *json, "print one JSON object as the last line");
  cmd->callback([o, json] {
    const auto r = bench::density_quality(*o);
    std::printf("%-14s %-7s %9s %10s %9s %8s %9s\n", "toy", "flow", "params", "test NLL", "entropy", "gap", "seconds");
    for (const auto& x : r["results"])
      std::printf("%-14s %-7s %9lld %10.4f %9.4f %8.4f %9.1f\n", x["toy"].get<std::string>().c_str(),
                  x["flow"].get<std::string>().c_str(), static_cast<long long>(x["params"].get<int64_t>()),
                  x["test_nll"].get<double>(), x["entropy"].get<double>(), x["gap"].get<double>(),
                  x["seconds"].get<double>());
    if (*json) print_json_line(r.dump());
  });
}

void setup_bench_density_speed(CLI::App& root) {
  auto o = std::make_shared<bench::DensitySpeedOptions>();
  auto json = std::make_shared<bool>(false);
  auto* cmd = bench_command(root).add_subcommand(
      "density-speed", "Wall time of `nfp density fit` with the other cores busy: default vs --threads 1/2, --data vs --toy");
  cmd->add_option("--toy", o->toy, "toy density (the CSVs hold exactly its samples)")->capture_default_str();
  cmd->add_option("--steps", o->steps, "optimizer steps per fit")->capture_default_str()->check(whole(1, 1000000000));
  cmd->add_option("--samples", o->samples, "training samples")->capture_default_str()->check(whole(2, 100000000));
  cmd->add_flag("!--no-spinning", o->spinning, "skip the contrast case: --threads 2 with libgomp's default spinning");
  cmd->add_option("--repeats", o->repeats, "interleaved rounds (each case keeps its fastest)")->capture_default_str()
      ->check(whole(1, 1000));
  cmd->add_option("--busy", o->busy, "competing spinning processes (-1: one per core but one)")->capture_default_str()
      ->check(whole(-1, 1024));
  cmd->add_option("--max-seconds", o->max_seconds, "stop the benchmark (and the busy processes) after this")
      ->capture_default_str()->check(positive_real(86400));
  cmd->add_option("--seed", o->seed, "seed")->capture_default_str()->check(seed_value());
  cmd->add_flag("--json", *json, "print one JSON object as the last line");
  cmd->callback([o, json] {
    const auto r = bench::density_speed(*o);
    std::printf("nfp density fit, %lld steps, %lld samples, %d busy process(es) on %d cores; load before %s, after %s\n",
                (long long)o->steps, (long long)o->samples, r["busy_processes"].get<int>(), r["cores"].get<int>(),
                r["load_before"].get<std::string>().c_str(), r["load_after"].get<std::string>().c_str());
    std::printf("%-50s %9s %10s\n", "case", "seconds", "train NLL");
    for (const auto& x : r["cases"])
      std::printf("%-50s %9.2f %10.4f\n", x["name"].get<std::string>().c_str(), x["seconds"].get<double>(),
                  x["train_nll"].get<double>());
    std::printf("default / best setting: %.2fx (floor 1.3x)\n--data / --toy: %.2fx (floor 1.3x), same fit: %s\n",
                r["default_vs_best"].get<double>(), r["data_vs_toy"].get<double>(), r["data_same_fit"].get<bool>() ? "yes" : "NO");
    if (r.contains("spinning_vs_passive"))
      std::printf("--threads 2, libgomp's default spinning / nfp's passive wait: %.2fx\n",
                  r["spinning_vs_passive"].get<double>());
    std::printf("%s\n", r["pass"].get<bool>() ? "PASS" : "FAIL");
    if (*json) print_json_line(r.dump());
  });
}

}  // namespace

NFP_COMMAND("bench-flow", setup_bench_flow);
NFP_COMMAND("bench-density-speed", setup_bench_density_speed);
NFP_COMMAND("bench-density", setup_bench_density);

}  // namespace nfp::cli
