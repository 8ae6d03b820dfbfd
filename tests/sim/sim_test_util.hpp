// Helpers for the simulator tests: run one expert episode and keep what happened.
#pragma once
#include <vector>

#include "nfp/sim_env.hpp"

namespace nfp::sim::test {

struct Rollout {
  std::vector<std::vector<float>> actions;   // (T x A)
  std::vector<std::vector<double>> states;   // (T+1 x S): before each step and after the last
  bool success = false;
};

inline Rollout run_expert(Env& env, uint64_t seed, bool clean) {
  Rollout r;
  env.reset(seed);
  auto expert = make_expert(env, seed, clean);
  r.states.push_back(env.get_state());
  StepResult s;
  do {
    r.actions.push_back(expert->act(env));
    s = env.step(r.actions.back());
    r.states.push_back(env.get_state());
  } while (!s.done);
  r.success = s.success;
  return r;
}

}  // namespace nfp::sim::test
