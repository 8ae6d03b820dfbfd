// `nfp bench sim`: control steps per second per core for every simulated task without rendering, and
// rendered frames per second (bench/sim_speed.cpp; `nfp tasks --bench` runs the same measurement).
#include "bench_sim.hpp"
#include "command.hpp"
#include "nfp/sim_env.hpp"

namespace {

void setup_bench_sim(CLI::App& root) {
  auto o = std::make_shared<nfp::bench::SimSpeedOptions>();
  auto json = std::make_shared<bool>(false);
  CLI::App* cmd = nfp::cli::bench_command(root).add_subcommand(
      "sim", "Simulator speed: control steps per CPU-second per task without rendering, rendered frames per second");
  cmd->add_option("tasks", o->tasks, "Only these tasks (default: all; see `nfp tasks`)");
  cmd->add_option("--seconds", o->seconds, "Measuring time per figure")->check(nfp::cli::positive_real(3600));
  cmd->add_option("--image-size", o->image_size, "Rendered images are N x N")->check(CLI::Range(8, 1024));
  cmd->add_flag("--json", *json, "Print one JSON object as the last line");
  cmd->callback([o, json] {
    for (const auto& t : o->tasks) nfp::sim::task_spec(t);  // an unknown task fails before any work
    const nlohmann::json r = nfp::bench::sim_speed(*o);
    nfp::bench::print_sim_speed(r);
    if (*json) nfp::cli::print_json_line(r.dump());
  });
}

}  // namespace

NFP_COMMAND("bench-sim", setup_bench_sim);
