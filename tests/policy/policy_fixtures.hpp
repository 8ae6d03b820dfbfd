// A small state-only policy and its observations, shared by the policy tests.
#pragma once
#include <string>

#include "nfp/policy.hpp"

namespace nfp::test {

inline KeyStats stats(NormMode mode, std::vector<double> lo, std::vector<double> hi) {
  KeyStats s;
  s.mode = mode;
  s.min = lo;
  s.max = hi;
  for (size_t i = 0; i < lo.size(); ++i) {
    s.mean.push_back(0.5 * (lo[i] + hi[i]));
    s.std.push_back(0.5 * (hi[i] - lo[i]));
  }
  s.count = 10;
  s.finalize();
  return s;
}

// Keys state (2) and object_state (3), 2-D actions, horizon 6, n_action_steps 3, context 16; eval mode.
inline Policy small_policy(const std::string& head, uint64_t seed = 0, int64_t stride = 1) {
  PolicyConfig c;
  c.stride = stride;
  c.obs_keys = {"state", "object_state"};
  c.obs_dims = {2, 3};
  c.action_dim = 2;
  c.horizon = 6;
  c.n_action_steps = 3;
  c.encoder_hidden = 32;
  c.context_dim = 16;
  c.head = default_head_config(head);
  c.head.hidden = 32;
  c.head.layers = 3;
  c.head.down_dims = {16, 32};
  c.head.seed = seed;
  Normalizer n;
  n.keys["action"] = stats(NormMode::min_max, {-0.4, -0.3}, {0.4, 0.5});
  n.keys["state"] = stats(NormMode::mean_std, {-1, -1}, {1, 1});
  n.keys["object_state"] = stats(NormMode::mean_std, {-1, -1, 0}, {1, 1, 2});
  torch::manual_seed(seed);
  Policy p = make_policy(c, n);
  p->eval();
  return p;
}

inline Observation small_obs(float v) {
  Observation o;
  o.lowdim = {{"state", {v, -v}}, {"object_state", {0.1f, v, 1.0f}}};
  return o;
}

}  // namespace nfp::test
