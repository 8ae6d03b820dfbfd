// Small untrained policies for the evaluation tests.
#pragma once
#include <string>

#include "nfp/evaluator.hpp"
#include "nfp/policy.hpp"
#include "nfp/sim_env.hpp"

namespace nfp::test {

// Options for a test rollout: no progress bar; max_steps 0 runs to the task's limit.
inline EvalOptions quiet_options(const std::string& task, int64_t episodes, int64_t max_steps = 0) {
  EvalOptions o;
  o.task = task;
  o.episodes = episodes;
  o.max_steps = max_steps;
  o.progress = false;
  return o;
}

// Statistics of `d` values in [-r, r] with mean 0 and std r / 2.
inline KeyStats symmetric_stats(int d, NormMode mode, double r) {
  KeyStats s;
  s.mode = mode;
  s.min.assign(size_t(d), -r);
  s.max.assign(size_t(d), r);
  s.mean.assign(size_t(d), 0.0);
  s.std.assign(size_t(d), r / 2);
  s.finalize();
  return s;
}

// Horizon 8, n_action_steps 4, a `head` of 2 layers x 32 hidden units; min-max actions in [-0.4, 0.4].
inline Policy push_policy(const std::string& head) {
  auto spec = sim::task_spec("push-two-goals");
  PolicyConfig c;
  Normalizer n;
  auto add = [&](const std::string& key, int d, NormMode mode) { n.keys[key] = symmetric_stats(d, mode, 0.4); };
  for (const auto& [k, d] : spec.obs_dims) {
    c.obs_keys.push_back(k);
    c.obs_dims.push_back(d);
    add(k, d, NormMode::mean_std);
  }
  add("action", spec.action.dim, NormMode::min_max);
  c.action_dim = spec.action.dim;
  c.horizon = 8;
  c.n_action_steps = 4;
  c.encoder_hidden = 32;
  c.context_dim = 16;
  c.head = default_head_config(head);
  c.head.hidden = 32;
  c.head.layers = 2;
  c.task = "push-two-goals";
  Policy p = make_policy(c, n);
  p->eval();
  return p;
}

}  // namespace nfp::test
