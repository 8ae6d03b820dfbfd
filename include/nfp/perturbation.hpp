// Perturbations the demonstrations never showed, applied by the evaluator from a control step on: what the
// failure benchmark (`nfp bench monitor`) throws at a policy to see whether its monitor notices. Each draws from
// its own stream seeded by the episode's seed, so a perturbed episode is reproducible.
//   action_noise     every executed action + N(0, (m x half its range)^2) per dimension, clamped to the range
//   state_noise      every low-dim observation value + N(0, m^2) (data units)
//   camera_noise     every pixel + N(0, (255 m)^2), rounded and clamped
//   camera_blackout  every camera image black (m unused)
//   camera_colour    every image's red and blue channels swapped, blended by m in [0, 1]
//   object_shift     once, at the step: every object (a body on a free joint, or on slide joints no actuator drives)
//                    moved m metres in a random x-y direction
//                    (at step 0: starting positions outside the range the demonstrations covered)
//   sensor_dropout   at each step, with probability m, every low-dim value NaN (a dropped sensor frame): the policy
//                    refuses it, or holds its last action (RunnerOptions::hold_on_nonfinite)
//   weak_gripper     every gripper command held at or above m of its range (0 closed .. 1 open): the position-
//                    controlled fingers stop short of closing, so they squeeze a grasped object with a fraction of
//                    the force (arm tasks; no effect on actions without a gripper)
#pragma once
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "nfp/observation.hpp"
#include "nfp/sim_env.hpp"

namespace nfp {

struct Perturbation {
  std::string kind = "none";
  int64_t at_step = 0;     // the first control step it applies to
  double magnitude = 0;
};

std::vector<std::string> perturbation_kinds();  // none first
// Throws nfp::Error for an unknown kind (naming them) or a negative / non-finite magnitude or step.
void check_perturbation(const Perturbation& p);

// One episode's perturbation: its stream, seeded by the episode's seed.
class PerturbationRun {
 public:
  PerturbationRun(Perturbation p, uint64_t episode_seed);
  // Before the policy sees the observation of control step `step`: may edit the simulator (object_shift, then
  // `obs` is observed again) and the observation.
  void before_policy(int64_t step, sim::Env& env, Observation& obs);
  // The action the simulator receives at `step`.
  void on_action(int64_t step, const sim::ActionSpec& spec, std::vector<float>& action);

 private:
  Perturbation p_;
  std::mt19937_64 rng_;
  bool shifted_ = false;
};

}  // namespace nfp
