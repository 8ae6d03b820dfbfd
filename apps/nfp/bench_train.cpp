// `nfp bench train`: training samples per second with R ranks x 1 thread (`nfp train --nproc R`) against one
// process with 1 and with R threads, per head, on this machine; and how much of a step waits for the all-reduce.
#include <cstdio>

#include "bench_train.hpp"
#include "command.hpp"

namespace {

void run_bench_train(nfp::bench::TrainSpeedOptions o, bool json) {
  o.nfp = nfp::cli::command_line().at(0);
  if (o.nfp.find('/') == std::string::npos) o.nfp = "/proc/self/exe";  // found on PATH: run this very binary
  const nlohmann::json r = nfp::bench::train_speed(o);
  std::printf("train throughput: %s, batch %d per rank, %d steps per run, load %s -> %s\n",
              r["machine"].get<std::string>().c_str(), o.batch, o.steps, r["load_before"].get<std::string>().c_str(),
              r["load_after"].get<std::string>().c_str());
  std::printf("  %-12s %13s %12s %12s %9s %14s %9s %9s\n", "head", "ranks x thr", "samples/s", "step ms", "speed-up",
              "all-reduce ms", "share", "MB/step");
  for (const auto& x : r["results"]) {
    char speedup[32] = "-";
    if (!x["speedup"].is_null()) std::snprintf(speedup, sizeof speedup, "%.2fx", x["speedup"].get<double>());
    std::printf("  %-12s %9d x %d %12.0f %12.1f %9s %14.1f %8.0f%% %9.1f\n", x["head"].get<std::string>().c_str(),
                x["ranks"].get<int>(), x["threads"].get<int>(), x["samples_per_s"].get<double>(),
                x["step_ms"].get<double>(), speedup, x["allreduce_wait_ms"].get<double>(),
                100 * x["allreduce_share"].get<double>(), x["allreduce_mb"].get<double>());
  }
  if (json) nfp::cli::print_json_line(r.dump());
}

void setup_bench_train(CLI::App& root) {
  auto o = std::make_shared<nfp::bench::TrainSpeedOptions>();
  auto json = std::make_shared<bool>(false);
  CLI::App* cmd = nfp::cli::bench_command(root).add_subcommand(
      "train", "Training samples/s: R ranks x 1 thread (nfp train --nproc R) vs 1 process with 1 and R threads");
  cmd->add_option("--nproc", o->nproc, "rank counts to measure, e.g. --nproc 1,2 (1 x max threads is added)")
      ->delimiter(',')
      ->check(nfp::cli::whole(1, 64));
  cmd->add_option("--heads", o->heads, "heads to train, e.g. nfp-spline,diffusion")->delimiter(',');
  cmd->add_option("--data", o->data, "demonstrations (default: collect --episodes of --task first)");
  cmd->add_option("--task", o->task, "task to collect when --data is not given")->capture_default_str();
  cmd->add_option("--episodes", o->episodes, "episodes to collect when --data is not given")
      ->check(nfp::cli::whole(1, 100000))
      ->capture_default_str();
  cmd->add_option("--batch", o->batch, "batch per rank")->check(nfp::cli::whole(1, 100000))->capture_default_str();
  cmd->add_option("--steps", o->steps, "steps per run (the first and last 10 are not timed)")
      ->check(nfp::cli::whole(30, 10000000))
      ->capture_default_str();
  cmd->add_option("--repeats", o->repeats, "interleaved repeats of every run (the median is reported)")
      ->check(nfp::cli::whole(1, 100))
      ->capture_default_str();
  cmd->add_option("--workdir", o->workdir, "keep the runs and their logs here (default: a temporary folder)");
  cmd->add_flag("!--no-progress", o->progress, "no progress bar");
  cmd->add_flag("--json", *json, "Print one JSON object as the last line");
  cmd->callback([o, json] { run_bench_train(*o, *json); });
}

}  // namespace

NFP_COMMAND("bench-train", setup_bench_train);
