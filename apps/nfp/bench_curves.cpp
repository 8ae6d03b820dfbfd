// `nfp bench curves`: success against training compute per head, to each head's plateau (bench/bench_curves.hpp).
#include <csignal>
#include <cstdio>

#include "bench_curves.hpp"
#include "command.hpp"
#include "nfp/error.hpp"
#include "nfp/json_io.hpp"

namespace nfp::cli {
namespace {

volatile std::sig_atomic_t g_stop = 0;
// First Ctrl-C: finish the training step, checkpoint, stop after the evaluation under way. A second one: now.
extern "C" void on_stop_signal(int sig) {
  if (g_stop) {
    std::signal(sig, SIG_DFL);
    std::raise(sig);
  }
  g_stop = sig;
}

void setup_bench_curves(CLI::App& root) {
  auto o = std::make_shared<bench::CurvesOptions>();
  auto heads = std::make_shared<std::string>("nfp-spline,nina-mlp,diffusion:ddim-10,diffusion:ddpm-100,flow-matching:euler-4,regression");
  auto obs = std::make_shared<std::string>(), cameras = std::make_shared<std::string>(),
       config = std::make_shared<std::string>();
  auto json_out = std::make_shared<bool>(false);
  auto* cmd = bench_command(root).add_subcommand(
      "curves", "Learning curves: train each head once, evaluate every --eval-every steps until it plateaus or "
                "reaches --max-steps (results.csv, summary.csv, results.md, success_vs_cpu.svg); a rerun resumes");
  cmd->add_option("--out", o->out, "output directory (reused to resume; two processes may share it)")->required();
  cmd->add_option("--task", o->task, "simulated task")->capture_default_str();
  cmd->add_option("--heads", *heads,
                  "comma-separated curves: HEAD or HEAD:SAMPLING (sample, sbs-N, gr-K, ddim-N, ddpm-N, euler-N); "
                  "curves of one head share its training")
      ->capture_default_str();
  cmd->add_option("--max-steps", o->max_steps, "training step cap per head (the schedule spans it)")
      ->capture_default_str()
      ->check(whole(1, 1000000000));
  cmd->add_option("--eval-every", o->eval_every, "steps between evaluations")->capture_default_str()->check(whole(1, 1000000000));
  cmd->add_option("--episodes", o->episodes, "episodes per evaluation")->capture_default_str()->check(whole(1, 1000000));
  cmd->add_option("--eval-seed", o->eval_seed, "first evaluation seed (the same seeds at every point)")
      ->capture_default_str()
      ->check(seed_value());
  cmd->add_option("--plateau-window", o->plateau_window,
                  "evaluations pooled by the plateau rule (last W vs the W before; below " +
                      std::to_string(int(bench::kMinPlateauPc)) + "% success is never a plateau)")
      ->capture_default_str()
      ->check(whole(1, 1000));
  cmd->add_option("--demos", o->demos, "demonstrations to collect (without --data)")->capture_default_str()->check(whole(1, 100000));
  cmd->add_option("--data", o->data, "existing demonstrations (HDF5) instead of collecting");
  cmd->add_option("--obs", *obs, "observations: comma list of state, images (default state)");
  cmd->add_option("--cameras", *cameras, "with images: cameras to collect and train on, e.g. top");
  cmd->add_option("--image-size", o->image_size, "with images: collected image size")->capture_default_str()->check(whole(8, 1024));
  cmd->add_option("--batch", o->batch, "every head's batch (default: each head's)")->check(whole(1, 1000000));
  cmd->add_option("--config", *config, "JSON {\"policy\": {...}, \"train\": {...}} over every head's defaults");
  add_threads_option(*cmd, o->threads);
  add_device_option(*cmd, o->device);
  cmd->add_flag("--json", *json_out, "print one JSON object as the last line");
  cmd->callback([o, heads, obs, cameras, config, json_out] {
    bench::CurvesOptions run = *o;
    run.curves = split_commas(*heads);
    run.obs = split_commas(*obs);
    run.cameras = split_commas(*cameras);
    if (!config->empty()) {
      run.config = read_json_file(*config);
      require(run.config.is_object(), *config + ": expected {\"policy\": {...}, \"train\": {...}}");
      for (const auto& [k, v] : run.config.items())
        require(k == "policy" || k == "train", *config + ": unknown top-level key '" + k + "' (expected policy, train)");
    }
    run.command = "nfp";
    for (size_t i = 1; i < command_line().size(); ++i) run.command += " " + command_line()[i];
    run.log = [](const std::string& line) {
      std::printf("%s\n", line.c_str());
      std::fflush(stdout);
    };
    std::signal(SIGINT, on_stop_signal);
    std::signal(SIGTERM, on_stop_signal);
    run.stop_requested = [] { return g_stop != 0; };
    const auto r = bench::run_curves(run);
    std::signal(SIGINT, SIG_DFL);
    std::signal(SIGTERM, SIG_DFL);
    std::printf("wrote %s/results.md, summary.csv, results.csv\n", o->out.string().c_str());
    if (*json_out) print_json_line(r.dump());
    std::fflush(stdout);
    if (r["interrupted"].get<bool>()) {
      std::fprintf(stderr, "nfp bench curves: interrupted; the same command continues where it stopped\n");
      std::exit(130);
    }
  });
}

}  // namespace

NFP_COMMAND("bench-curves", setup_bench_curves);

}  // namespace nfp::cli
