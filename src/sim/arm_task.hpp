// ArmTaskEnv: the part of TaskEnv shared by the arm tasks (one arm or two facing each other): actions of
// 7 values per arm, gravity compensation, `state` = 7 per arm, arms start near home. Internal to src/sim.
#pragma once
#include <cmath>
#include <string>
#include <vector>

#include "sim/arm.hpp"
#include "sim/task_env.hpp"

namespace nfp::sim {

// Fills the action part of `s` for arms named by `prefixes` ("" or "left_", "right_").
inline void arm_task_spec(TaskSpec& s, const std::vector<std::string>& prefixes) {
  s.action.dim = 7 * static_cast<int>(prefixes.size());
  for (const auto& p : prefixes) arm_action_spec(p, s.action.low, s.action.high, s.action.names);
  s.action.meaning = "per arm: 6 absolute joint-position targets (rad: waist, shoulder, elbow, forearm_roll, "
                     "wrist_pitch, wrist_roll) + gripper command (0 closed .. 1 open)";
  s.num_arms = static_cast<int>(prefixes.size());
  s.cameras = {"top"};
  for (const auto& p : prefixes) s.cameras.push_back(p + "wrist");  // "wrist" or "left_wrist", "right_wrist"
  s.obs_dims["state"] = 7 * s.num_arms;
}

class ArmTaskEnv : public TaskEnv {
 public:
  // `arms`: prefix and base yaw of each arm.
  ArmTaskEnv(std::shared_ptr<const mjModel> model, TaskSpec spec, EnvOptions options, int substeps,
             const std::vector<std::pair<std::string, double>>& arms)
      : TaskEnv(std::move(model), std::move(spec), std::move(options), substeps) {
    for (const auto& [prefix, yaw] : arms) arms_.push_back(Arm::find(m_, prefix, yaw));
  }
  const std::vector<Arm>& arms() const { return arms_; }
  // Grip site position of arm `a`: (3)
  const mjtNum* grip_pos(int a) const { return d_->site_xpos + 3 * arms_[a].site; }

 protected:
  void init_arms(std::mt19937_64& rng) {
    for (const auto& arm : arms_) {
      auto q = arm_home();
      for (double& v : q) v += uniform(rng, -0.03, 0.03);
      arm.set_joints(m_, d_, q.data(), 1.0);
    }
  }
  void apply_action(const float* a) override {
    for (size_t i = 0; i < arms_.size(); ++i) arms_[i].apply(m_, d_, a + 7 * i);
  }
  void before_substep() override {
    for (const auto& arm : arms_) arm.compensate_gravity(d_);
  }
  std::vector<float> arm_state() const {
    std::vector<float> s(7 * arms_.size());
    for (size_t i = 0; i < arms_.size(); ++i) arms_[i].state(d_, s.data() + 7 * i);
    return s;
  }
  // Appends position (3), quaternion (4) and position minus arm `arm`'s grip site (3) of a free body.
  void append_object(std::vector<float>& out, int body, int arm) const {
    for (int i = 0; i < 3; ++i) out.push_back(static_cast<float>(d_->xpos[3 * body + i]));
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<float>(d_->xquat[4 * body + i]));
    for (int i = 0; i < 3; ++i) out.push_back(static_cast<float>(d_->xpos[3 * body + i] - grip_pos(arm)[i]));
  }

  std::vector<Arm> arms_;
};

// The gripper yaw (about z) that grasps a box of yaw `box_yaw` across two faces, nearest to the yaw the
// arm has when it points at the box (`natural`). `period`: pi/2 for a cube, pi for a bar (across its y).
inline double grasp_yaw(double box_yaw, double natural, double period = M_PI / 2) {
  double best = box_yaw, best_d = 1e9;
  for (int k = -4; k <= 4; ++k) {
    double y = box_yaw + k * period, d = std::abs(std::remainder(y - natural, 2 * M_PI));
    if (d < best_d) best = natural + std::remainder(y - natural, 2 * M_PI), best_d = d;
  }
  return best;
}

}  // namespace nfp::sim

namespace nfp::sim {

// One expert move: drives the commanded pose toward `goal` (unless `paused`); true once the command is at
// the goal and the measured grip site `site` (3) is within `tol` of it.
inline bool reach(ArmDriver& driver, const GripPose& goal, double speed, double dt, const mjtNum* site,
                  double tol, bool paused) {
  bool at = !paused && driver.move_toward(goal, speed, dt);
  double e = std::hypot(goal.pos[0] - site[0], goal.pos[1] - site[1], goal.pos[2] - site[2]);
  return at && e < tol;
}

}  // namespace nfp::sim
