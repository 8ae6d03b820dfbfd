// `nfp bench monitor`: the failure benchmark (bench/bench_monitor.hpp).
#include <cstdio>

#include "bench_monitor.hpp"
#include "command.hpp"
#include "inference_flags.hpp"
#include "nfp/checkpoint.hpp"
#include "nfp/runtime_setup.hpp"

namespace nfp::cli {
namespace {

struct MonitorBenchArgs {
  bench::MonitorBenchOptions o;
  std::string checkpoint, out, perturbations;
  InferenceFlags inference;
  int threads = kDefaultThreads;
  bool json = false, no_progress = false;
};

std::string num(const json& v, int width = 6) {
  char buf[32];
  if (v.is_null()) std::snprintf(buf, sizeof buf, "%*s", width, "n/a");
  else std::snprintf(buf, sizeof buf, "%*.3f", width, v.get<double>());
  return buf;
}

void print_row(const std::string& name, const std::string& score, const json& m, const json& success) {
  std::printf("  %-16s %-12s %7s %6s %6s %6s %6s %6s %8s  %lld/%lld\n", name.c_str(), score.c_str(),
              success.is_null() ? "" : num(success, 6).c_str(), num(m["auroc"]).c_str(), num(m["tpr"]).c_str(),
              num(m["tnr"]).c_str(), num(m["balanced_accuracy"]).c_str(), num(m["false_alarm_rate"]).c_str(),
              num(m["mean_lead_steps"], 8).c_str(), (long long)m["failures"].get<int64_t>(),
              (long long)m["successes"].get<int64_t>());
}

void run(MonitorBenchArgs& a) {
  configure_threads(a.threads);
  Policy policy = load_policy(a.checkpoint);
  const RunnerOptions run = runner_options(*policy, a.inference);
  for (const auto& p : split_commas(a.perturbations)) a.o.perturbations.push_back(bench::parse_perturbation(p));
  a.o.progress = !a.no_progress;
  // The observation-side score, when the run has an embedding monitor (nfp monitor fit).
  if (std::filesystem::exists(checkpoint_dir(a.checkpoint) / kEmbeddingMonitorDir))
    a.o.embedding = std::make_shared<const EmbeddingMonitor>(EmbeddingMonitor::load(a.checkpoint));
  const json r = bench::monitor_benchmark(policy, run, a.o);
  std::printf("monitor benchmark: %s, %s (%s), alpha %.3f; calibration success %.1f%%\n", a.checkpoint.c_str(),
              r["task"].get<std::string>().c_str(), describe_inference(*policy, run).c_str(), a.o.alpha,
              r["calibration_success"].get<double>());
  std::printf("  %-16s %-12s %7s %6s %6s %6s %6s %6s %8s  %s\n", "condition", "score", "succ%", "AUROC", "TPR", "TNR",
              "BA", "FA", "lead", "fail/succ");
  for (const auto& c : r["conditions"])
    for (const auto& s : r["scores"]) print_row(c["name"], s, c["metrics"][s.get<std::string>()], c["pc_success"]);
  for (const auto& s : r["scores"]) print_row("all perturbed", s, r["perturbed"][s.get<std::string>()], json());
  for (const auto& s : r["scores"]) print_row("all", s, r["pooled"][s.get<std::string>()], json());
  if (!a.out.empty()) write_json_file(a.out, r);
  if (a.json) print_json_line(r.dump());
}

void setup_bench_monitor(CLI::App& root) {
  auto a = std::make_shared<MonitorBenchArgs>();
  auto* cmd = bench_command(root).add_subcommand(
      "monitor", "Failure benchmark: calibrate the monitor on successes, then detect failures under perturbations "
                 "(every score the policy gives; the embedding score once `nfp monitor fit` has run)");
  cmd->add_option("--checkpoint", a->checkpoint, "run directory of `nfp train`")->required();
  cmd->add_option("--task", a->o.task, "task (default: the one recorded at training)");
  cmd->add_option("--calibration-episodes", a->o.calibration_episodes, "calibration rollouts")->capture_default_str()
      ->check(whole(4, 1000000));
  cmd->add_option("--episodes", a->o.episodes, "rollouts per condition (clean and each perturbation)")
      ->capture_default_str()->check(whole(1, 1000000));
  cmd->add_option("--seed", a->o.seed, "calibration seeds from here; clean +100000, perturbation k +200000+10000k")
      ->capture_default_str()->check(seed_value());
  cmd->add_option("--alpha", a->o.alpha, "false-alarm rate allowed on successful episodes")->capture_default_str()
      ->check(CLI::Range(1e-6, 0.999999));
  cmd->add_option("--perturbations", a->perturbations,
                  "KIND:STEP:MAGNITUDE,... (default: action_noise:10:0.3, object_shift:10:0.08, state_noise:0:0.05, and "
                  "camera_noise:5:0.15, camera_blackout:10:0, camera_colour:0:1 with cameras, weak_gripper:0:0.43 with a "
                  "gripper)");
  add_inference_flags(*cmd, a->inference);
  add_threads_option(*cmd, a->threads);
  cmd->add_option("--out", a->out, "write the result JSON here");
  cmd->add_flag("--no-progress", a->no_progress, "no progress bars");
  cmd->add_flag("--json", a->json, "print the result as one JSON line");
  cmd->callback([a] { run(*a); });
}

}  // namespace
NFP_COMMAND("bench-monitor", setup_bench_monitor);
}  // namespace nfp::cli
