// `nfp bench loader`: how many training windows per second the data loader delivers (96x96, two cameras).
#include <cstdio>

#include "bench_loader.hpp"
#include "command.hpp"

namespace {

void run_bench_loader(const nfp::bench::LoaderSpeedOptions& o, bool json) {
  const nlohmann::json r = nfp::bench::loader_speed(o);
  const auto& d = r["dataset"];
  std::printf("loader: %d episodes x %d frames, 2 cameras %dx%d uint8 (%.0f MB), batch %d, m=%d n=%d\n",
              o.episodes, o.frames, o.image_size, o.image_size, d["file_mb"].get<double>(), o.batch_size, o.history,
              o.horizon);
  for (const auto& x : r["results"])
    std::printf("  workers %d  images %-9s %9.0f windows/s  %7.2f ms/batch  cpu %6.2f ms/batch  waiting %6.2f ms/batch\n",
                x["workers"].get<int>(), x["lazy"].get<bool>() ? "lazy" : "in memory",
                x["windows_per_s"].get<double>(), x["ms_per_batch"].get<double>(), x["cpu_ms_per_batch"].get<double>(),
                x["wait_ms_per_batch"].get<double>());
  if (json) nfp::cli::print_json_line(r.dump());
}

void setup_bench_loader(CLI::App& root) {
  auto o = std::make_shared<nfp::bench::LoaderSpeedOptions>();
  auto json = std::make_shared<bool>(false);
  CLI::App* cmd = nfp::cli::bench_command(root).add_subcommand(
      "loader", "Data loader throughput (windows/s) on a synthetic 2-camera robomimic dataset");
  cmd->add_option("--episodes", o->episodes, "Episodes in the synthetic dataset")->check(nfp::cli::whole(1, 1000000));
  cmd->add_option("--frames", o->frames, "Frames per episode")->check(nfp::cli::whole(1, 10000000));
  cmd->add_option("--image-size", o->image_size, "Images are N x N")->check(CLI::Range(8, 1024));
  cmd->add_option("--batch-size", o->batch_size, "Windows per batch")->check(nfp::cli::whole(1, 1000000));
  cmd->add_option("--history", o->history, "Observation history m")->check(nfp::cli::whole(1, 1024));
  cmd->add_option("--horizon", o->horizon, "Action horizon n")->check(nfp::cli::whole(1, 1024));
  cmd->add_option("--workers", o->workers, "Worker counts to measure, e.g. --workers 0 1 2")
      ->check(nfp::cli::whole(0, 64));
  cmd->add_option("--seconds", o->seconds, "Measuring time per configuration")->check(nfp::cli::positive_real(3600));
  cmd->add_option("--consumer-ms", o->consumer_ms, "Simulated training step per batch (ms of one busy core)")
      ->check(nfp::cli::non_negative_real(1e6));
  cmd->add_flag("!--no-lazy", o->lazy, "Skip the measurement with images read from disk");
  cmd->add_flag("--json", *json, "Print one JSON object as the last line");
  cmd->callback([o, json] { run_bench_loader(*o, *json); });
}

}  // namespace

NFP_COMMAND("bench-loader", setup_bench_loader);
