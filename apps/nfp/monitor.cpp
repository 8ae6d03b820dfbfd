// `nfp monitor fit`: the observation-side embedding monitor (nfp/embedding_monitor.hpp) into
// RUN/checkpoint/monitor_embedding/. `nfp monitor calibrate`: roll a policy out on calibration seeds, keep the
// successful episodes, and fit the monitor's time-varying thresholds (nfp/monitor.hpp) into
// RUN/checkpoint/monitor.json, which `nfp eval --monitor` then uses.
#include <cmath>
#include <iostream>

#include "command.hpp"
#include "inference_flags.hpp"
#include "nfp/checkpoint.hpp"
#include "nfp/embedding_monitor.hpp"
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
  require(policy->head()->has_log_prob() || a.score == "consistency" || a.score == "embedding",
          "--score " + a.score + ": this policy's head ('" + policy->config().head.type +
              "') has no likelihood; use --score embedding (after `nfp monitor fit`) or consistency");
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
  if (a.score == "embedding") o.embedding = std::make_shared<const EmbeddingMonitor>(EmbeddingMonitor::load(a.checkpoint));
  require(a.score != "continuation" || run.n_action_steps < policy->config().horizon,
          "--score continuation needs chunks that outlive their re-plan (n_action_steps < horizon)");
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

struct FitArgs {
  std::string checkpoint;
  EmbeddingFitOptions o;
  int threads = kDefaultThreads;
  bool json_out = false, no_progress = false;
};

void run_fit(FitArgs& a) {
  configure_threads(a.threads);
  a.o.progress = !a.no_progress;
  const EmbeddingFitReport r = fit_embedding_monitor(a.checkpoint, a.o);
  auto num = [](double v) { return std::isfinite(v) ? std::to_string(v).substr(0, 7) : std::string("n/a"); };
  std::cout << "fit the embedding monitor of " << a.checkpoint << " on " << r.windows << " training windows ("
            << r.dim << "-D embeddings, " << a.o.layers << " affine couplings, " << a.o.fit.steps << " steps, "
            << std::lround(r.seconds) << " s): -log q / dim " << num(r.train_score) << " on them, "
            << num(r.valid_score) << " on " << r.valid_windows << " held-out windows -> " << r.dir.string()
            << "\nnext: nfp monitor calibrate --checkpoint " << a.checkpoint << " --score embedding\n";
  if (a.json_out)
    print_json_line(json{{"windows", r.windows}, {"valid_windows", r.valid_windows}, {"dim", r.dim},
                         {"train_score", r.train_score}, {"valid_score", std::isfinite(r.valid_score) ? json(r.valid_score) : json()},
                         {"seconds", r.seconds}, {"dir", r.dir.string()}}
                        .dump());
}

void setup_fit(CLI::App& m) {
  auto a = std::make_shared<FitArgs>();
  auto* c = m.add_subcommand("fit", "Fit the observation-side score: a small flow over the policy's embeddings of its "
                                    "training windows, into RUN/checkpoint/monitor_embedding/");
  c->add_option("--checkpoint", a->checkpoint, "run directory of `nfp train`")->required();
  c->add_option("--data", a->o.data, "the dataset the run trained on (default: the path in RUN/train_config.json)");
  c->add_option("--windows", a->o.max_windows, "training windows embedded at most (evenly spaced)")
      ->capture_default_str()->check(whole(2, 10000000));
  c->add_option("--steps", a->o.fit.steps, "optimizer steps")->capture_default_str()->check(whole(1, 10000000));
  c->add_option("--batch", a->o.fit.batch, "batch size")->capture_default_str()->check(whole(1, 1000000));
  c->add_option("--lr", a->o.fit.lr, "AdamW learning rate")->capture_default_str()->check(CLI::Range(1e-8, 1.0));
  c->add_option("--layers", a->o.layers, "affine coupling layers")->capture_default_str()->check(whole(1, 64));
  c->add_option("--hidden", a->o.hidden, "conditioner width")->capture_default_str()->check(whole(1, 8192));
  c->add_option("--noise", a->o.fit.noise, "training noise std (standardized units)")->capture_default_str()
      ->check(CLI::Range(0.0, 10.0));
  c->add_option("--seed", a->o.fit.seed, "initialisation and batch order")->capture_default_str()->check(seed_value());
  add_threads_option(*c, a->threads);
  c->add_flag("--no-progress", a->no_progress, "no progress bar");
  c->add_flag("--json", a->json_out, "print the fit's figures as one JSON line");
  c->callback([a] { run_fit(*a); });
}

void setup_monitor(CLI::App& root) {
  auto* m = root.add_subcommand("monitor", "Safety monitor: fit the embedding score, calibrate alarm thresholds");
  m->require_subcommand(1);
  setup_fit(*m);
  auto a = std::make_shared<CalibrateArgs>();
  auto* c = m->add_subcommand("calibrate", "Roll out on calibration seeds and fit the monitor's thresholds (split "
                                           "conformal, successful episodes only) into RUN/checkpoint/monitor.json");
  c->add_option("--checkpoint", a->checkpoint, "run directory of `nfp train`")->required();
  c->add_option("--episodes", a->episodes, "calibration episodes")->capture_default_str()->check(whole(4, 1000000));
  c->add_option("--seed", a->seed, "episode i uses seed + i; keep clear of collection, tuning and evaluation seeds")
      ->capture_default_str()->check(seed_value());
  c->add_option("--alpha", a->alpha, "false-alarm rate allowed on successful episodes")->capture_default_str()
      ->check(CLI::Range(1e-6, 0.999999));
  c->add_option("--score", a->score, "neg_logp (default), spread (SBS), continuation, embedding (after `nfp monitor "
                                     "fit`; any head) or consistency (no likelihood)")->capture_default_str();
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
