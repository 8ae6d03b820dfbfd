// `nfp bench ablations`: NF-P and NinA ablation axes and data scaling (bench/bench_ablations.hpp).
#include <cstdio>

#include "bench_ablations.hpp"
#include "command.hpp"
#include "nfp/error.hpp"

namespace nfp::cli {
namespace {

void setup_bench_ablations(CLI::App& root) {
  auto o = std::make_shared<bench::AblationOptions>();
  auto axes = std::make_shared<std::string>("sigma,strategy");
  auto json = std::make_shared<bool>(false);
  auto* cmd = bench_command(root).add_subcommand(
      "ablations", "NF-P axes (stride, sigma, strategy, chunk), NinA axes (noise, plu, layers) and data scaling");
  cmd->add_option("--out", o->out, "output directory (reused to resume)")->required();
  cmd->add_option("--axes", *axes, "comma-separated: stride,sigma,strategy,chunk,noise,plu,layers,data")->capture_default_str();
  cmd->add_option("--task", o->task, "task with jittery demonstrations")->capture_default_str();
  cmd->add_option("--demos", o->demos, "demonstrations (the data axis varies it)")->capture_default_str()
      ->check(whole(1, 100000));
  cmd->add_option("--steps", o->steps, "training steps per model")->capture_default_str()->check(whole(1, 1000000000));
  cmd->add_option("--episodes", o->episodes, "episodes per evaluation block")->capture_default_str()
      ->check(whole(1, 1000000));
  cmd->add_option("--eval-seeds", o->eval_seeds, "evaluation blocks per variant (spread)")->capture_default_str()
      ->check(whole(1, 1000));
  cmd->add_option("--train-seeds", o->train_seeds, "models per training variant (spread)")->capture_default_str()
      ->check(whole(1, 1000));
  cmd->add_option("--base-run", o->base_run, "an nfp-spline run on the task to reuse for sigma / strategy");
  add_threads_option(*cmd, o->threads);
  add_device_option(*cmd, o->device);
  cmd->add_flag("--json", *json, "print one JSON object as the last line");
  cmd->callback([o, axes, json, cmd] {
    bench::AblationOptions run = *o;
    run.axes.clear();
    for (size_t i = 0; i <= axes->size();) {
      const size_t j = std::min(axes->find(',', i), axes->size());
      if (j > i) run.axes.push_back(axes->substr(i, j - i));
      i = j + 1;
    }
    require(!run.axes.empty(), "--axes: name at least one of stride,sigma,strategy,chunk,noise,plu,layers,data");
    run.command = "nfp bench ablations --out " + o->out.string() + " --axes " + *axes;
    for (const char* flag : {"--task", "--demos", "--steps", "--episodes", "--eval-seeds", "--train-seeds", "--base-run"})
      if (cmd->count(flag)) run.command += std::string(" ") + flag + " " + cmd->get_option(flag)->results().front();
    run.log = [](const std::string& line) {
      std::printf("%s\n", line.c_str());
      std::fflush(stdout);
    };
    const auto r = bench::run_ablations(run);
    std::printf("%-10s %-22s %-12s %9s %6s %3s\n", "axis", "value", "head", "success%", "std", "n");
    for (const auto& s : r["summary"])
      std::printf("%-10s %-22s %-12s %9.1f %6.1f %3zu\n", s["axis"].get<std::string>().c_str(),
                  s["value"].get<std::string>().c_str(), s["head"].get<std::string>().c_str(), s["mean"].get<double>(),
                  s["std"].get<double>(), s["n"].get<size_t>());
    std::printf("wrote %s/results.csv and results.md\n", o->out.string().c_str());
    if (*json) print_json_line(nlohmann::json{{"summary", r["summary"]}}.dump());
  });
}

}  // namespace

NFP_COMMAND("bench-ablations", setup_bench_ablations);

}  // namespace nfp::cli
