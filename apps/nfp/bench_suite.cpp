// `nfp bench suite`: train + evaluate tasks x heads within a profile's budget (bench/bench_suite.hpp).
#include <cstdio>

#include "bench_suite.hpp"
#include "command.hpp"

namespace nfp::cli {
namespace {

void setup_bench_suite(CLI::App& root) {
  auto o = std::make_shared<bench::SuiteOptions>();
  auto json = std::make_shared<bool>(false);
  auto* cmd = bench_command(root).add_subcommand(
      "suite", "Train and evaluate tasks x heads (results.csv, results.md); a rerun skips finished cells");
  cmd->add_option("--profile", o->profile, "quick | full")->capture_default_str();
  cmd->add_option("--out", o->out, "output directory (reused to resume)")->required();
  cmd->add_option("--tasks", o->tasks, "tasks (default: the profile's)");
  cmd->add_option("--heads", o->heads, "heads (default: the profile's)");
  cmd->add_option("--demos", o->demos, "demonstrations per task (default: the profile's)")->check(whole(1, 100000));
  cmd->add_option("--steps", o->steps, "training steps for every head (default: the profile's)")
      ->check(whole(1, 1000000000));
  cmd->add_option("--episodes", o->episodes, "evaluation episodes (default: the profile's)")->check(whole(1, 10000000));
  add_threads_option(*cmd, o->threads);
  add_device_option(*cmd, o->device);
  cmd->add_flag("--json", *json, "print one JSON object as the last line");
  cmd->callback([o, json, cmd] {
    bench::SuiteOptions run = *o;
    run.command = "nfp bench suite --profile " + o->profile + " --out " + o->out.string();
    for (const char* flag : {"--tasks", "--heads", "--demos", "--steps", "--episodes"})
      if (cmd->count(flag)) {
        run.command += std::string(" ") + flag;
        for (const auto& v : cmd->get_option(flag)->results()) run.command += " " + v;
      }
    run.log = [](const std::string& line) {
      std::printf("%s\n", line.c_str());
      std::fflush(stdout);
    };
    const auto r = bench::run_suite(run);
    std::printf("wrote %s/results.csv and results.md\n", o->out.string().c_str());
    if (*json) print_json_line(r.dump());
  });
}

}  // namespace

NFP_COMMAND("bench-suite", setup_bench_suite);

}  // namespace nfp::cli
