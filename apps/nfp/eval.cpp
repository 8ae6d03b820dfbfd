// `nfp eval`: roll a trained policy out in a simulated task and write LeRobot's eval_info.json.
#include <iostream>

#include "command.hpp"
#include "nfp/checkpoint.hpp"
#include "nfp/error.hpp"
#include "nfp/evaluator.hpp"
#include "nfp/flow.hpp"
#include "nfp/runtime_setup.hpp"

namespace nfp::cli {
namespace {

struct EvalArgs {
  std::string checkpoint, task, strategy, video, out, instruction;
  bool instruction_given = false;
  int64_t episodes = 50, candidates = 0, gr_steps = -1, steps = 0, n_action_steps = 0;
  int goal = -1;
  uint64_t seed = 100000;
  double sigma = -1;
  int threads = kDefaultThreads;
  bool json_out = false, no_progress = false;
};

void run_eval(const EvalArgs& a) {
  configure_threads(a.threads);
  Policy policy = load_policy(a.checkpoint);
  RunnerOptions run = policy->default_options();
  auto& inf = run.inference;
  if (!a.strategy.empty()) inf.strategy = a.strategy;
  if (a.sigma >= 0) inf.sigma = a.sigma;
  if (a.candidates > 0) inf.candidates = a.candidates;
  if (a.gr_steps >= 0) inf.gr_steps = a.gr_steps;
  if (a.steps > 0) inf.steps = a.steps;
  if (a.n_action_steps > 0) {
    require(a.n_action_steps <= policy->config().horizon, "--n-action-steps must be <= the horizon (" +
                                                              std::to_string(policy->config().horizon) + ")");
    run.n_action_steps = a.n_action_steps;
  }
  policy->check_options(run);
  EvalOptions o;
  o.task = a.task.empty() ? policy->config().task : a.task;
  require(!o.task.empty(), "--task is required (the checkpoint does not record its task)");
  o.episodes = a.episodes;
  o.seed = a.seed;
  o.video_dir = a.video;
  if (a.instruction_given) {
    require(has_modality(policy->config(), "instruction"),
            "--instruction: this policy does not read instructions (it was trained without --obs ...,instruction)");
    o.instruction = a.instruction;
  }
  o.goal = a.goal;
  o.progress = !a.no_progress;
  json info = evaluate_policy(policy, run, o);
  info["checkpoint"] = a.checkpoint;
  info["parameters"] = count_parameters(*policy);
  info["head_parameters"] = count_parameters(*policy->head());
  write_json_file(a.out, info);
  const auto& g = info["aggregated"];
  std::cout << "eval " << o.task << " " << policy->config().head.type << " (" << describe_inference(*policy, run) << "): success "
            << g["pc_success"].get<double>() << "% over " << a.episodes << " episodes, chunk latency p50 "
            << g["chunk_latency_ms_p50"].get<double>() << " ms, p99 " << g["chunk_latency_ms_p99"].get<double>()
            << " ms -> " << a.out << "\n";
  if (g.contains("per_goal")) {
    std::cout << "per goal:";
    for (const auto& pg : g["per_goal"])
      std::cout << " [" << pg["goal"].get<int>() << "] " << pg["pc_success"].get<double>() << "% ("
                << pg["episodes"].get<int64_t>() << ")";
    std::cout << "\n";
  }
  if (a.json_out) {
    json line = info;
    line.erase("per_episode");
    print_json_line(line.dump());
  }
}

void setup_eval(CLI::App& root) {
  auto a = std::make_shared<EvalArgs>();
  auto* c = root.add_subcommand("eval", "Evaluate a trained policy in a simulated task (eval_info.json)");
  c->add_option("--checkpoint", a->checkpoint, "run directory of `nfp train` (or its checkpoint/)")->required();
  c->add_option("--task", a->task, "task (default: the one recorded at training)");
  c->add_option("--episodes", a->episodes, "episodes")->capture_default_str()->check(whole(1, 10000000));
  c->add_option("--seed", a->seed, "episode i uses seed + i; keep clear of the collection seeds")->capture_default_str()
      ->check(seed_value());
  c->add_option("--strategy", a->strategy, "sample | sbs | gr | denoise (default: the checkpoint's)");
  c->add_option("--sigma", a->sigma, "flow heads: sampling std")->check(non_negative_real(100));
  c->add_option("--candidates", a->candidates, "sbs: candidates per chunk (default 128)")->check(whole(1, 65536));
  c->add_option("--gr-steps", a->gr_steps, "gr: Adam steps (default 10)")->check(whole(0, 100000));
  c->add_option("--steps", a->steps, "diffusion / flow matching: sampling steps")->check(whole(1, 100000));
  c->add_option("--n-action-steps", a->n_action_steps, "actions executed per chunk before re-planning (default: trained)")
      ->check(whole(1, 1024));
  add_threads_option(*c, a->threads);
  c->add_option("--video", a->video, "write MP4s of the first episodes here");
  c->add_option("--out", a->out, "eval_info.json path")->required();
  c->add_option("--instruction", a->instruction, "replace the task's instruction (\"\" blanks it) to probe the policy")
      ->each([a](const std::string&) { a->instruction_given = true; });
  c->add_option("--goal", a->goal, "language-conditioned tasks: run every episode on goal N (nfp tasks lists them)")
      ->check(whole(0, 1000000));
  c->add_flag("--no-progress", a->no_progress, "no progress bar");
  c->add_flag("--json", a->json_out, "print the result (without per_episode) as one JSON line");
  c->callback([a] { run_eval(*a); });
}

}  // namespace

NFP_COMMAND("eval", setup_eval);

}  // namespace nfp::cli
