// Perturbations for the failure benchmark (nfp/perturbation.hpp).
#include "nfp/perturbation.hpp"

#include <mujoco/mujoco.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "nfp/error.hpp"

namespace nfp {

std::vector<std::string> perturbation_kinds() {
  return {"none",         "action_noise",  "state_noise", "camera_noise", "camera_blackout", "camera_colour",
          "object_shift", "sensor_dropout", "weak_gripper"};
}

void check_perturbation(const Perturbation& p) {
  const auto kinds = perturbation_kinds();
  if (std::find(kinds.begin(), kinds.end(), p.kind) == kinds.end()) {
    std::string known;
    for (const auto& k : kinds) known += (known.empty() ? "" : ", ") + k;
    throw Error("unknown perturbation '" + p.kind + "'; known: " + known);
  }
  require(std::isfinite(p.magnitude) && p.magnitude >= 0, "perturbation magnitude must be finite and >= 0");
  require(p.at_step >= 0, "perturbation step must be >= 0");
}

PerturbationRun::PerturbationRun(Perturbation p, uint64_t episode_seed)
    : p_(std::move(p)), rng_(episode_seed * 0x9E3779B97F4A7C15ull + 0x5151) {}

void PerturbationRun::before_policy(int64_t step, sim::Env& env, Observation& obs) {
  if (p_.kind == "none" || step < p_.at_step) return;
  const std::string& k = p_.kind;
  if (k == "object_shift") {
    if (shifted_) return;
    shifted_ = true;
    const mjModel* m = env.model();
    std::vector<double> s = env.get_state();  // (time, qpos, qvel, ...)
    // The objects: bodies on a free joint (the arm tasks) or on slide joints no actuator drives (the planar block);
    // each body moves in one random x-y direction and lands at rest.
    std::uniform_real_distribution<double> angle(0, 2 * M_PI);
    std::vector<double> body_angle(size_t(m->nbody), NAN);
    auto actuated = [&](int j) {
      for (int a = 0; a < m->nu; ++a)
        if (m->actuator_trntype[a] == mjTRN_JOINT && m->actuator_trnid[2 * a] == j) return true;
      return false;
    };
    for (int j = 0; j < m->njnt; ++j) {
      const bool free = m->jnt_type[j] == mjJNT_FREE, slide = m->jnt_type[j] == mjJNT_SLIDE && !actuated(j);
      if (!free && !slide) continue;
      double& a = body_angle[size_t(m->jnt_bodyid[j])];
      if (std::isnan(a)) a = angle(rng_);
      const size_t q = size_t(1 + m->jnt_qposadr[j]), v = size_t(1 + m->nq + m->jnt_dofadr[j]);
      if (free) {
        s[q] += p_.magnitude * std::cos(a);
        s[q + 1] += p_.magnitude * std::sin(a);
        for (size_t d = 0; d < 6; ++d) s[v + d] = 0;
      } else {
        const double* axis = m->jnt_axis + 3 * j;
        s[q] += p_.magnitude * (axis[0] * std::cos(a) + axis[1] * std::sin(a));
        s[v] = 0;
      }
    }
    env.set_state(s);
    const std::string instruction = obs.instruction;
    obs = env.observe();
    obs.instruction = instruction;
    return;
  }
  std::normal_distribution<double> n01(0, 1);
  if (k == "sensor_dropout" && std::uniform_real_distribution<double>(0, 1)(rng_) < p_.magnitude)
    for (auto& [key, v] : obs.lowdim)
      for (auto& x : v) x = std::numeric_limits<float>::quiet_NaN();
  if (k == "state_noise")
    for (auto& [key, v] : obs.lowdim)
      for (auto& x : v) x = float(x + p_.magnitude * n01(rng_));
  for (auto& [key, im] : obs.images) {
    auto& px = im.pixels;
    if (k == "camera_blackout") {
      std::fill(px.begin(), px.end(), uint8_t(0));
    } else if (k == "camera_noise") {
      for (auto& v : px) v = uint8_t(std::clamp(std::lround(double(v) + 255.0 * p_.magnitude * n01(rng_)), 0L, 255L));
    } else if (k == "camera_colour") {
      const double b = std::clamp(p_.magnitude, 0.0, 1.0);
      for (size_t i = 0; i + 2 < px.size(); i += 3) {
        const double r = px[i], bl = px[i + 2];
        px[i] = uint8_t(std::lround((1 - b) * r + b * bl));
        px[i + 2] = uint8_t(std::lround((1 - b) * bl + b * r));
      }
    }
  }
}

void PerturbationRun::on_action(int64_t step, const sim::ActionSpec& spec, std::vector<float>& action) {
  if (step < p_.at_step) return;
  if (p_.kind == "weak_gripper") {
    const double m = std::clamp(p_.magnitude, 0.0, 1.0);
    for (size_t i = 0; i < action.size() && i < spec.names.size(); ++i)
      if (spec.names[i].ends_with("gripper"))
        action[i] = std::max(action[i], float(double(spec.low[i]) + m * (double(spec.high[i]) - double(spec.low[i]))));
    return;
  }
  if (p_.kind != "action_noise") return;
  std::normal_distribution<double> n01(0, 1);
  for (size_t i = 0; i < action.size(); ++i) {
    const double half = 0.5 * (double(spec.high[i]) - double(spec.low[i]));
    action[i] = float(std::clamp(double(action[i]) + p_.magnitude * half * n01(rng_), double(spec.low[i]), double(spec.high[i])));
  }
}

}  // namespace nfp
