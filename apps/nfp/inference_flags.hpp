// The inference flags `nfp eval` and `nfp serve` share: each overrides one of the checkpoint's defaults.
#pragma once
#include <CLI/CLI.hpp>
#include <cstdint>

#include "nfp/monitor.hpp"
#include "nfp/policy.hpp"
#include "nfp/runtime_runner.hpp"

namespace nfp::cli {

struct InferenceFlags {
  std::string strategy, sampler;
  double sigma = -1;
  int64_t candidates = 0, gr_steps = -1, steps = 0, n_action_steps = 0;
  bool any() const { return !strategy.empty() || !sampler.empty() || sigma >= 0 || candidates > 0 || gr_steps >= 0 || steps > 0 || n_action_steps > 0; }
};

void add_inference_flags(CLI::App& cmd, InferenceFlags& flags);
// The checkpoint's defaults with the given flags applied, checked (nfp::Error on a bad combination).
RunnerOptions runner_options(const PolicyImpl& policy, const InferenceFlags& flags);

// The flags for a RuntimeRunner (--backend runtime, --model): unset ones take the exported file's settings; --steps
// and --sampler (of diffusion / flow matching) have no meaning there and are refused.
RuntimeRunnerOptions runtime_runner_options(const InferenceFlags& flags);

// The checkpoint's monitor calibration (`nfp monitor calibrate`), for `nfp eval --monitor` and `nfp serve --monitor`,
// checked against the settings the caller samples with (nfp::Error otherwise: the scores depend on them).
MonitorCalibration load_monitor(const std::string& checkpoint, const json& inference, int64_t n_action_steps);

}  // namespace nfp::cli
