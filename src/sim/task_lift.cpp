// lift: one arm grasps a cube and lifts it at least 10 cm.
#include <cmath>

#include "sim/arm_task.hpp"
#include "sim/tasks.hpp"

namespace nfp::sim {

namespace {

constexpr double kBaseX = -0.3;
constexpr double kCube = 0.02;  // half size (m)

std::string xml() {
  return arm_scene_xml("lift", 0.5, 0.4, {{"", kBaseX, 0, 0}},
                       "    <body name=\"cube\" pos=\"0 0 0.02\"><freejoint name=\"cube\"/>"
                       "<geom class=\"object\" type=\"box\" size=\"0.02 0.02 0.02\" mass=\"0.05\" rgba=\".85 .2 .2 1\"/>"
                       "</body>\n");
}

TaskSpec make_spec() {
  TaskSpec s;
  s.name = "lift";
  s.description = "one arm grasps a cube and lifts it at least 10 cm";
  arm_task_spec(s, {""});
  s.control_hz = 10;
  s.max_steps = 80;
  s.obs_dims["object_state"] = 10;
  s.instructions = {"lift the red cube"};
  return s;
}

class LiftEnv : public ArmTaskEnv {
 public:
  explicit LiftEnv(const EnvOptions& o) : ArmTaskEnv(shared_model("lift", xml()), make_spec(), o, kArmSubsteps, {{"", 0.0}}) {
    cube_body_ = require_id(m_, mjOBJ_BODY, "cube");
    cube_joint_ = require_id(m_, mjOBJ_JOINT, "cube");
  }
  int cube() const { return cube_body_; }
  double cube_z0() const { return kCube; }

 protected:
  void init_episode(std::mt19937_64& rng) override {
    init_arms(rng);
    set_free_pose(m_, d_, cube_joint_, uniform(rng, -0.03, 0.07), uniform(rng, -0.1, 0.1), kCube,
                  uniform(rng, -0.5, 0.5));
  }
  void lowdim(Observation& obs) const override {
    obs.lowdim["state"] = arm_state();  // (7)
    std::vector<float> o;
    append_object(o, cube_body_, 0);  // (10) cube pos, quat, cube - grip
    obs.lowdim["object_state"] = o;
  }
  bool check_success() const override { return d_->xpos[3 * cube_body_ + 2] >= kCube + 0.10; }

 private:
  int cube_body_, cube_joint_;
};

class LiftExpert : public Expert {
 public:
  LiftExpert(const Env& env, uint64_t seed, bool clean)
      : env_(dynamic_cast<const LiftEnv&>(env)),
        driver_(static_cast<const mjModel*>(env.model()), static_cast<const mjData*>(env.data()), env_.arms()[0]),
        jitter_(seed, !clean) {}

  std::vector<float> act(const Env&) override {
    const mjData* d = static_cast<const mjData*>(env_.data());
    const double dt = 1.0 / env_.spec().control_hz;
    const mjtNum* c = d->xpos + 3 * env_.cube();
    const mjtNum* g = env_.grip_pos(0);
    GripPose goal;
    double natural = std::atan2(c[1], c[0] - kBaseX);
    goal.yaw = grasp_yaw(body_yaw(d, env_.cube()), natural);
    auto err = [&](const GripPose& p) { return std::hypot(p.pos[0] - g[0], p.pos[1] - g[1], p.pos[2] - g[2]); };
    bool paused = jitter_.pause();
    switch (phase_) {
      case 0:  // above the cube
        goal.pos = {c[0], c[1], 0.11};
        if (!paused && driver_.move_toward(goal, 0.35, dt) && err(goal) < 0.015) phase_ = 1;
        break;
      case 1:  // down around it
        goal.pos = {c[0], c[1], 0.028};
        if (!paused && driver_.move_toward(goal, 0.18, dt) && err(goal) < 0.008) phase_ = 2;
        break;
      case 2:  // close
        driver_.grip = 0;
        if (++timer_ >= 5) phase_ = 3;
        break;
      default:  // lift
        goal.pos = {driver_.commanded().pos[0], driver_.commanded().pos[1], 0.2};
        goal.yaw = driver_.commanded().yaw;
        if (!paused) driver_.move_toward(goal, 0.25, dt);
    }
    driver_.jitter = jitter_.next();
    std::vector<float> a(7);
    driver_.action(a.data());
    return a;
  }

 private:
  const LiftEnv& env_;
  ArmDriver driver_;
  Jitter jitter_;
  int phase_ = 0, timer_ = 0;
};

}  // namespace

TaskEntry lift_task() {
  return {"lift", make_spec, [](const EnvOptions& o) -> std::unique_ptr<Env> { return std::make_unique<LiftEnv>(o); },
          [](const Env& env, uint64_t seed, bool clean) -> std::unique_ptr<Expert> {
            return std::make_unique<LiftExpert>(env, seed, clean);
          }};
}

}  // namespace nfp::sim
