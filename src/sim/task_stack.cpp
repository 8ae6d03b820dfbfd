// stack: one arm puts block A (red, 4 cm) on block B (green, 5 cm). Success: A rests on B (centres within
// 2 cm horizontally, A's bottom on B's top within 1 cm), the gripper is open and A is still.
#include <cmath>

#include "sim/pick_place.hpp"
#include "sim/tasks.hpp"

namespace nfp::sim {

namespace {

constexpr double kBaseX = -0.3;
constexpr double kA = 0.02, kB = 0.025;  // half sizes

std::string xml() {
  return arm_scene_xml("stack", 0.5, 0.4, {{"", kBaseX, 0, 0}},
         "    <body name=\"block_a\" pos=\"0 0.1 0.02\"><freejoint name=\"block_a\"/>"
         "<geom class=\"object\" type=\"box\" size=\"0.02 0.02 0.02\" mass=\"0.05\" rgba=\".85 .2 .2 1\"/></body>\n"
         "    <body name=\"block_b\" pos=\"0 -0.1 0.025\"><freejoint name=\"block_b\"/>"
         "<geom class=\"object\" type=\"box\" size=\"0.025 0.025 0.025\" mass=\"0.2\" rgba=\".2 .7 .3 1\"/></body>\n");
}

TaskSpec make_spec() {
  TaskSpec s;
  s.name = "stack";
  s.description = "one arm puts the red block on the green block";
  arm_task_spec(s, {""});
  s.control_hz = 10;
  s.max_steps = 120;
  s.obs_dims["object_state"] = 20;
  s.instructions = {"stack the red block on the green block"};
  return s;
}

class StackEnv : public ArmTaskEnv {
 public:
  explicit StackEnv(const EnvOptions& o) : ArmTaskEnv(shared_model("stack", xml()), make_spec(), o, kArmSubsteps, {{"", 0.0}}) {
    a_ = require_id(m_, mjOBJ_BODY, "block_a"), b_ = require_id(m_, mjOBJ_BODY, "block_b");
    ja_ = require_id(m_, mjOBJ_JOINT, "block_a"), jb_ = require_id(m_, mjOBJ_JOINT, "block_b");
  }
  int block_a() const { return a_; }
  int block_b() const { return b_; }

 protected:
  void init_episode(std::mt19937_64& rng) override {
    init_arms(rng);
    // Two spots 12-20 cm apart within reach, in random order.
    double xa, ya, xb, yb;
    do {
      xa = uniform(rng, -0.04, 0.08), ya = uniform(rng, -0.12, 0.12);
      xb = uniform(rng, -0.04, 0.08), yb = uniform(rng, -0.12, 0.12);
    } while (std::hypot(xa - xb, ya - yb) < 0.12);
    set_free_pose(m_, d_, ja_, xa, ya, kA, uniform(rng, -0.5, 0.5));
    set_free_pose(m_, d_, jb_, xb, yb, kB, uniform(rng, -0.5, 0.5));
  }
  void lowdim(Observation& obs) const override {
    obs.lowdim["state"] = arm_state();  // (7)
    std::vector<float> o;
    append_object(o, a_, 0);  // (10)
    append_object(o, b_, 0);  // (10)
    obs.lowdim["object_state"] = o;  // (20)
  }
  bool check_success() const override {
    const mjtNum *a = d_->xpos + 3 * a_, *b = d_->xpos + 3 * b_;
    const mjtNum* va = d_->cvel + 6 * a_;  // (angular 3, linear 3)
    double speed = std::hypot(va[3], va[4], va[5]);
    return std::hypot(a[0] - b[0], a[1] - b[1]) < 0.02 && std::abs(a[2] - kA - (b[2] + kB)) < 0.01 &&
           arms_[0].gripper_opening(d_) > 0.5 && speed < 0.05;
  }

 private:
  int a_, b_, ja_, jb_;
};

class StackExpert : public Expert {
 public:
  StackExpert(const Env& env, uint64_t seed, bool clean)
      : env_(dynamic_cast<const StackEnv&>(env)), script_(env_, env_.block_a(), kA, seed, clean) {
    script_.has_place = true;
    script_.lift_z = 0.14;
  }
  std::vector<float> act(const Env&) override {
    const mjtNum* b = static_cast<const mjData*>(env_.data())->xpos + 3 * env_.block_b();
    script_.place = {b[0], b[1], b[2] + kB + kA + 0.004};  // release 4 mm above contact
    std::vector<float> a(7);
    script_.act(a.data());
    return a;
  }

 private:
  const StackEnv& env_;
  PickPlace script_;
};

}  // namespace

TaskEntry stack_task() {
  return {"stack", make_spec, [](const EnvOptions& o) -> std::unique_ptr<Env> { return std::make_unique<StackEnv>(o); },
          [](const Env& env, uint64_t seed, bool clean) -> std::unique_ptr<Expert> {
            return std::make_unique<StackExpert>(env, seed, clean);
          }};
}

}  // namespace nfp::sim
