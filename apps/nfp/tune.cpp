// `nfp tune`: pick a checkpoint's inference settings (strategy, sigma, SBS candidates, re-planning interval) by
// closed-loop success on tuning seeds; --apply writes the best into its config.json.
#include <iomanip>
#include <iostream>
#include <sstream>

#include "command.hpp"
#include "nfp/checkpoint.hpp"
#include "nfp/device.hpp"
#include "nfp/error.hpp"
#include "nfp/runtime_setup.hpp"
#include "nfp/tune.hpp"

namespace nfp::cli {
namespace {

struct TuneArgs {
  std::string checkpoint, task, out;
  TuneGrid grid;
  int64_t episodes = 20;
  uint64_t seed = 200000;
  int threads = kDefaultThreads;
  std::string device = "cpu";
  bool apply = false, json_out = false, no_progress = false;
};

std::string fixed1(double v) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(1) << v;
  return s.str();
}

void run_tune(const TuneArgs& a) {
  const torch::Device device = resolve_device(a.device);
  configure_threads(a.threads);
  Policy policy = load_policy(a.checkpoint, device);
  TuneOptions o;
  o.task = a.task.empty() ? policy->config().task : a.task;
  require(!o.task.empty(), "--task is required (the checkpoint does not record its task)");
  o.episodes = a.episodes;
  o.seed = a.seed;
  o.grid = a.grid;
  o.progress = !a.no_progress;
  const RunnerOptions base = policy->default_options();
  o.on_cell = [&policy, &base](const json& c, size_t i, size_t n) {
    std::cout << "[" << i + 1 << "/" << n << "] " << describe_inference(*policy, cell_options(base, c)) << ": success " << fixed1(c["pc_success"])
              << "% (worst goal " << fixed1(c["worst_goal_pc_success"]) << "%), chunk p50 "
              << fixed1(c["chunk_latency_ms_p50"]) << " ms" << std::endl;
  };
  json result = tune_inference(policy, base, o);
  result["checkpoint"] = a.checkpoint;
  const json& best = result["cells"][result["best"].get<size_t>()];
  result["applied"] = a.apply;
  write_json_file(a.out, result);
  if (a.apply) apply_inference(a.checkpoint, best);
  std::cout << "best: " << describe_inference(*policy, cell_options(base, best)) << " (" << fixed1(best["pc_success"]) << "% over "
            << a.episodes * result["goals"].get<int64_t>() << " episodes from seed " << a.seed << ")"
            << (a.apply ? "; written to the checkpoint's config.json" : "; --apply writes it to the checkpoint")
            << " -> " << a.out << "\n";
  if (a.json_out) print_json_line(result.dump());
}

void setup_tune(CLI::App& root) {
  auto a = std::make_shared<TuneArgs>();
  auto* c = root.add_subcommand(
      "tune", "Pick inference settings (strategy, sigma, SBS candidates, re-planning) by success on tuning seeds");
  c->add_option("--checkpoint", a->checkpoint, "run directory of `nfp train` (or its checkpoint/)")->required();
  c->add_option("--task", a->task, "task (default: the one recorded at training)");
  c->add_option("--episodes", a->episodes, "episodes per setting (per goal on language-conditioned tasks)")
      ->capture_default_str()->check(whole(1, 10000000));
  c->add_option("--seed", a->seed, "episode i uses seed + i; keep apart from collection and reporting seeds")
      ->capture_default_str()->check(seed_value());
  c->add_option("--strategy", a->grid.strategies, "comma list of sample, sbs, gr, denoise (default: the checkpoint's)")
      ->delimiter(',');
  c->add_option("--sigma", a->grid.sigmas, "comma list of sampling stds, e.g. 0.2,0.3,0.5 (default: the checkpoint's)")
      ->delimiter(',')->check(non_negative_real(100));
  c->add_option("--candidates", a->grid.candidates, "comma list of SBS candidate counts (default: the checkpoint's)")
      ->delimiter(',')->check(whole(1, 65536));
  c->add_option("--n-action-steps", a->grid.n_action_steps,
                "comma list of actions executed per chunk (default: the checkpoint's)")
      ->delimiter(',')->check(whole(1, 1024));
  add_threads_option(*c, a->threads);
  add_device_option(*c, a->device);
  c->add_option("--out", a->out, "tune.json: every setting's success, and the best")->required();
  c->add_flag("--apply", a->apply, "write the best setting into the checkpoint's config.json");
  c->add_flag("--no-progress", a->no_progress, "no progress bar");
  c->add_flag("--json", a->json_out, "print the result as one JSON line");
  c->callback([a] { run_tune(*a); });
}

}  // namespace

NFP_COMMAND("tune", setup_tune);

}  // namespace nfp::cli
