// The inference flags shared by `nfp eval` and `nfp serve`, and the monitor calibration checked against them.
#include "inference_flags.hpp"

#include <filesystem>

#include "command.hpp"
#include "nfp/checkpoint.hpp"
#include "nfp/error.hpp"

namespace nfp::cli {

void add_inference_flags(CLI::App& c, InferenceFlags& f) {
  c.add_option("--strategy", f.strategy, "sample | sbs | gr | denoise (default: the checkpoint's)");
  c.add_option("--sigma", f.sigma, "flow heads: sampling std")->check(non_negative_real(100));
  c.add_option("--candidates", f.candidates, "sbs: candidates per chunk (default 128)")->check(whole(1, 65536));
  c.add_option("--gr-steps", f.gr_steps, "gr: Adam steps (default 10)")->check(whole(0, 100000));
  c.add_option("--steps", f.steps, "diffusion / flow matching: sampling steps")->check(whole(1, 100000));
  c.add_option("--sampler", f.sampler, "diffusion: ddim | ddpm (default: the checkpoint's; DDPM-100: --sampler ddpm --steps 100)")
      ->check(CLI::IsMember({"ddim", "ddpm"}));
  c.add_option("--n-action-steps", f.n_action_steps, "actions executed per chunk before re-planning (default: trained)")
      ->check(whole(1, 1024));
}

RunnerOptions runner_options(const PolicyImpl& policy, const InferenceFlags& f) {
  RunnerOptions run = policy.default_options();
  auto& inf = run.inference;
  if (!f.strategy.empty()) inf.strategy = f.strategy;
  if (f.sigma >= 0) inf.sigma = f.sigma;
  if (f.candidates > 0) inf.candidates = f.candidates;
  if (f.gr_steps >= 0) inf.gr_steps = f.gr_steps;
  if (f.steps > 0) inf.steps = f.steps;
  if (!f.sampler.empty()) inf.sampler = f.sampler;
  if (f.n_action_steps > 0) {
    require(f.n_action_steps <= policy.config().horizon,
            "--n-action-steps must be <= the horizon (" + std::to_string(policy.config().horizon) + ")");
    run.n_action_steps = f.n_action_steps;
  }
  policy.check_options(run);
  return run;
}

RuntimeRunnerOptions runtime_runner_options(const InferenceFlags& f) {
  require(f.steps == 0, "--steps: the runtime runs flow heads, which take no sampling steps");
  require(f.sampler.empty(), "--sampler: the runtime runs flow heads, which have no diffusion sampler");
  RuntimeRunnerOptions o;
  o.strategy = f.strategy;
  o.sigma = f.sigma;
  o.candidates = f.candidates;
  o.gr_steps = f.gr_steps;
  o.n_action_steps = f.n_action_steps;
  return o;
}

MonitorCalibration load_monitor(const std::string& checkpoint, const json& inference, int64_t n_action_steps) {
  const auto path = checkpoint_dir(checkpoint) / kMonitorFile;
  require(std::filesystem::exists(path), "--monitor: '" + checkpoint + "' has no monitor calibration (" + path.string() +
                                             "); run `nfp monitor calibrate --checkpoint " + checkpoint + "` first");
  MonitorCalibration c = read_json_file(path).get<MonitorCalibration>();
  auto same = [&](const char* key) { return c.inference.value(key, json()) == inference.value(key, json()); };
  const bool sbs = inference.value("strategy", "") == "sbs";
  require(same("strategy") && same("sigma") && (!sbs || same("candidates")) && c.n_action_steps == n_action_steps,
          "--monitor: the monitor was calibrated with " + c.inference.dump() + ", n_action_steps " +
              std::to_string(c.n_action_steps) + "; evaluate with those settings or recalibrate with these");
  return c;
}

}  // namespace nfp::cli
