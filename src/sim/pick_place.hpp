// A scripted one-arm pick-and-place (or pick-and-lift) for cube-like objects: above the object, down,
// close, up, over the destination, down to the release height, open, up. Shared by the stack and
// multi-task experts. Internal to src/sim.
#pragma once
#include <array>
#include <cmath>
#include <vector>

#include "sim/arm_task.hpp"

namespace nfp::sim {

class PickPlace {
 public:
  // `env`'s arm 0 picks body `object` (a box of half size `half`) and, if `place` is set, releases it
  // with its centre at `place` (3, world); otherwise lifts it to `lift_z` and stays.
  PickPlace(const ArmTaskEnv& env, int object, double half, uint64_t seed, bool clean)
      : env_(env), object_(object), half_(half),
        driver_(static_cast<const mjModel*>(env.model()), static_cast<const mjData*>(env.data()), env.arms()[0]),
        jitter_(seed, !clean) {}

  bool has_place = false;
  std::array<double, 3> place{};  // object centre at release
  double lift_z = 0.2;            // grip height while carrying (or the final lift)

  // Writes the arm's action (7) for this control step.
  void act(float* action) {
    const mjData* d = static_cast<const mjData*>(env_.data());
    const double dt = 1.0 / env_.spec().control_hz;
    const mjtNum* c = d->xpos + 3 * object_;
    const mjtNum* g = env_.grip_pos(0);
    const int base = env_.arms()[0].base_body;
    const double base_x = d->xpos[3 * base], base_y = d->xpos[3 * base + 1];
    GripPose goal = driver_.commanded();
    bool paused = jitter_.pause();
    switch (phase_) {
      case 0:  // above the object
      case 1:  // around it
        goal.pos = {c[0], c[1], phase_ == 0 ? c[2] + 0.09 : c[2] + 0.008};
        goal.yaw = grasp_yaw(body_yaw(d, object_), std::atan2(c[1] - base_y, c[0] - base_x));
        if (reach(driver_, goal, phase_ == 0 ? 0.35 : 0.18, dt, g, phase_ == 0 ? 0.015 : 0.008, paused)) next();
        break;
      case 2:  // close
        driver_.grip = 0;
        if (++timer_ >= 5) next(), hold_ = {g[0] - c[0], g[1] - c[1], g[2] - c[2]};
        break;
      case 3:  // up
        goal.pos[2] = lift_z;
        if (reach(driver_, goal, 0.25, dt, g, 0.015, paused) && has_place) next();
        break;
      case 4:  // over the destination
      case 5:  // down to the release height
        goal.pos = {place[0] + hold_[0], place[1] + hold_[1], phase_ == 4 ? lift_z : place[2] + hold_[2]};
        if (reach(driver_, goal, phase_ == 4 ? 0.3 : 0.12, dt, g, 0.008, paused)) next();
        break;
      case 6:  // open
        driver_.grip = 1;
        if (++timer_ >= 3) next();
        break;
      default:  // up and away
        goal.pos[2] = place[2] + 0.12;
        if (!paused) driver_.move_toward(goal, 0.2, dt);
    }
    driver_.jitter = jitter_.next();
    driver_.action(action);
  }

 private:
  void next() { ++phase_, timer_ = 0; }

  const ArmTaskEnv& env_;
  int object_;
  double half_;
  ArmDriver driver_;
  Jitter jitter_;
  int phase_ = 0, timer_ = 0;
  std::array<double, 3> hold_{};  // grip site minus object centre while held
};

}  // namespace nfp::sim
