// `nfp monitor calibrate`: roll a policy out on calibration seeds, keep the successful episodes, and fit the
// likelihood monitor's time-varying thresholds (nfp/monitor.hpp) into RUN/checkpoint/monitor.json, which
// `nfp eval --monitor` then uses.
#include <iostream>

#include "command.hpp"
#include "inference_flags.hpp"
#include "nfp/checkpoint.hpp"
#include "nfp/error.hpp"
#include "nfp/evaluator.hpp"
#include "nfp/monitor.hpp"
#include "nfp/runtime_setup.hpp"

namespace nfp::cli {
namespace {

struct CalibrateArgs {
  std::string checkpoint, task, score = "neg_logp";
  InferenceFlags inference;
  int64_t episodes = 50;
  uint64_t seed = 300000;
  double alpha = 0.05;
  int threads = kDefaultThreads;
  bool json_out = false, no_progress = false;
};

void run_calibrate(const CalibrateArgs& a) {
  configure_threads(a.threads);
  check_monitor_score(a.score);
  Policy policy = load_policy(a.checkpoint);
  require(policy->head()->has_log_prob() || a.score == "consistency",
          "--score " + a.score + ": this policy's head ('" + policy->config().head.type +
              "') has no likelihood; use --score consistency");
  const RunnerOptions run = runner_options(*policy, a.inference);
  require(a.score != "spread" || run.inference.strategy == "sbs",
          "--score spread needs SBS candidates: pass --strategy sbs (or calibrate neg_logp)");
  EvalOptions o;
  o.task = a.task.empty() ? policy->config().task : a.task;
  require(!o.task.empty(), "--task is required (the checkpoint does not record its task)");
  o.episodes = a.episodes;
  o.seed = a.seed;
  o.scores = true;
  o.progress = !a.no_progress;
  const json info = evaluate_policy(policy, run, o);
  MonitorCalibration c = calibrate_monitor(successful_traces(info, a.score), a.alpha, a.score, a.seed);
  c.episodes = a.episodes;
  c.task = o.task;
  c.inference = run.inference;
  c.n_action_steps = run.n_action_steps;
  const auto path = checkpoint_dir(a.checkpoint) / kMonitorFile;
  write_json_file(path, c);
  std::cout << "calibrated the " << a.score << " monitor of " << a.checkpoint << " (" << describe_inference(*policy, run)
            << ") on " << a.episodes << " " << o.task << " episodes, seeds " << a.seed << ".." << a.seed + uint64_t(a.episodes) - 1
            << ": " << c.successes << " successful (" << c.fit_episodes << " fit the band, " << c.quantile_episodes
            << " set the quantile), alpha " << a.alpha << ", quantile "
            << (std::isfinite(c.quantile) ? std::to_string(c.quantile) : std::string("infinite (too few successes for alpha: no alarm)"))
            << " -> " << path.string() << "\n";
  if (a.json_out) print_json_line(json(c).dump());
}

void setup_monitor(CLI::App& root) {
  auto* m = root.add_subcommand("monitor", "The likelihood as a safety monitor: calibrate its alarm thresholds");
  m->require_subcommand(1);
  auto a = std::make_shared<CalibrateArgs>();
  auto* c = m->add_subcommand("calibrate", "Roll out on calibration seeds and fit the monitor's thresholds (split "
                                           "conformal, successful episodes only) into RUN/checkpoint/monitor.json");
  c->add_option("--checkpoint", a->checkpoint, "run directory of `nfp train`")->required();
  c->add_option("--episodes", a->episodes, "calibration episodes")->capture_default_str()->check(whole(4, 1000000));
  c->add_option("--seed", a->seed, "episode i uses seed + i; keep clear of collection, tuning and evaluation seeds")
      ->capture_default_str()->check(seed_value());
  c->add_option("--alpha", a->alpha, "false-alarm rate allowed on successful episodes")->capture_default_str()
      ->check(CLI::Range(1e-6, 0.999999));
  c->add_option("--score", a->score, "neg_logp (default), spread (SBS) or consistency (no likelihood)")->capture_default_str();
  c->add_option("--task", a->task, "task (default: the one recorded at training)");
  add_inference_flags(*c, a->inference);
  add_threads_option(*c, a->threads);
  c->add_flag("--no-progress", a->no_progress, "no progress bar");
  c->add_flag("--json", a->json_out, "print the calibration as one JSON line");
  c->callback([a] { run_calibrate(*a); });
}

}  // namespace

NFP_COMMAND("monitor", setup_monitor);

}  // namespace nfp::cli
