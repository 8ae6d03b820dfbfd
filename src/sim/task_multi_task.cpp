// multi-task (LIBERO-goal-like): one table with a red and a blue block and a green and a yellow pad. A
// natural-language instruction picks one of 10 goals; the scene is drawn from the seed independently of
// the goal, so the same initial scene admits every goal and only the instruction tells them apart.
// "Left" and "right" are the robot's (it sits at -x facing +x): left = +y, the green pad's side; the table's
// left and right edges are at y = +-kEdge.
#include <cmath>
#include <memory>

#include "nfp/error.hpp"
#include "sim/pick_place.hpp"
#include "sim/tasks.hpp"

namespace nfp::sim {

namespace {

constexpr double kBaseX = -0.3;
constexpr double kHalf = 0.02;  // both blocks
constexpr double kEdge = 0.3;   // table half width (y)
constexpr double kAtEdge = 0.22;  // push goals: block centre at least this far out (within 8 cm of the edge)

enum GoalKind { kOnPad, kOnBlock, kLift, kToEdge };
struct Goal {
  const char* text;
  GoalKind kind;
  int block;   // 0 red, 1 blue
  int target;  // pad (0 green, 1 yellow), the other block, or the edge's side (+1 left, -1 right)
};
const Goal kGoals[] = {
    {"put the red block on the green pad", kOnPad, 0, 0},   {"put the red block on the yellow pad", kOnPad, 0, 1},
    {"put the blue block on the green pad", kOnPad, 1, 0},  {"put the blue block on the yellow pad", kOnPad, 1, 1},
    {"put the red block on the blue block", kOnBlock, 0, 1}, {"put the blue block on the red block", kOnBlock, 1, 0},
    {"lift the red block", kLift, 0, 0},                     {"lift the blue block", kLift, 1, 0},
    {"push the blue block to the left edge", kToEdge, 1, 1}, {"push the red block to the right edge", kToEdge, 0, -1},
};
constexpr int kNumGoals = sizeof(kGoals) / sizeof(kGoals[0]);

std::string xml() {
  return arm_scene_xml("multi-task", 0.5, kEdge, {{"", kBaseX, 0, 0}},
         "    <body name=\"pad_green\" mocap=\"true\" pos=\"0.05 0.15 0.001\">"
         "<geom type=\"box\" size=\"0.045 0.045 0.001\" rgba=\".2 .7 .3 1\"/></body>\n"
         "    <body name=\"pad_yellow\" mocap=\"true\" pos=\"0.05 -0.15 0.001\">"
         "<geom type=\"box\" size=\"0.045 0.045 0.001\" rgba=\".9 .8 .2 1\"/></body>\n"
         "    <body name=\"red\" pos=\"0 0.05 0.02\"><freejoint name=\"red\"/>"
         "<geom class=\"object\" type=\"box\" size=\"0.02 0.02 0.02\" mass=\"0.05\" rgba=\".85 .2 .2 1\"/></body>\n"
         "    <body name=\"blue\" pos=\"0 -0.05 0.02\"><freejoint name=\"blue\"/>"
         "<geom class=\"object\" type=\"box\" size=\"0.02 0.02 0.02\" mass=\"0.05\" rgba=\".2 .3 .85 1\"/></body>\n");
}

TaskSpec make_spec() {
  TaskSpec s;
  s.name = "multi-task";
  s.description = "language-conditioned goals on one table: 10 instructions over two blocks and two pads";
  arm_task_spec(s, {""});
  s.control_hz = 10;
  s.max_steps = 120;
  s.obs_dims["object_state"] = 24;
  for (const auto& g : kGoals) s.instructions.push_back(g.text);
  return s;
}

class MultiEnv : public ArmTaskEnv {
 public:
  explicit MultiEnv(const EnvOptions& o)
      : ArmTaskEnv(shared_model("multi-task", xml()), make_spec(), o, kArmSubsteps, {{"", 0.0}}) {
    nfp::require(o.goal < kNumGoals, "multi-task has goals 0.." + std::to_string(kNumGoals - 1) + ", got " +
                                         std::to_string(o.goal));
    block_[0] = require_id(m_, mjOBJ_BODY, "red"), block_[1] = require_id(m_, mjOBJ_BODY, "blue");
    joint_[0] = require_id(m_, mjOBJ_JOINT, "red"), joint_[1] = require_id(m_, mjOBJ_JOINT, "blue");
    for (int p = 0; p < 2; ++p) pad_mocap_[p] = m_->body_mocapid[require_id(m_, mjOBJ_BODY, p ? "pad_yellow" : "pad_green")];
  }
  int goal() const override { return goal_; }
  const Goal& goal_spec() const { return kGoals[goal_]; }
  int block(int i) const { return block_[i]; }
  const mjtNum* pad(int p) const { return d_->mocap_pos + 3 * pad_mocap_[p]; }

 protected:
  void init_episode(std::mt19937_64& rng) override {
    // The goal comes from its own stream, so that the scene of a seed is the same whatever the goal.
    std::mt19937_64 goal_rng(seed() * 0x9e3779b97f4a7c15ull + 12345);
    goal_ = options_.goal >= 0 ? options_.goal : std::uniform_int_distribution<int>(0, kNumGoals - 1)(goal_rng);
    init_arms(rng);
    for (int p = 0; p < 2; ++p) {
      mjtNum* pos = d_->mocap_pos + 3 * pad_mocap_[p];
      pos[0] = uniform(rng, 0.02, 0.07), pos[1] = (p ? -1 : 1) * uniform(rng, 0.13, 0.17), pos[2] = 0.001;
    }
    double x[2], y[2];
    do {
      for (int i = 0; i < 2; ++i) x[i] = uniform(rng, -0.05, 0.05), y[i] = uniform(rng, -0.08, 0.08);
    } while (std::hypot(x[0] - x[1], y[0] - y[1]) < 0.09);
    for (int i = 0; i < 2; ++i) set_free_pose(m_, d_, joint_[i], x[i], y[i], kHalf, uniform(rng, -0.5, 0.5));
  }
  std::string instruction() const override { return kGoals[goal_].text; }
  void lowdim(Observation& obs) const override {
    obs.lowdim["state"] = arm_state();  // (7)
    std::vector<float> o;
    append_object(o, block_[0], 0);  // red (10)
    append_object(o, block_[1], 0);  // blue (10)
    for (int p = 0; p < 2; ++p) o.push_back(static_cast<float>(pad(p)[0])), o.push_back(static_cast<float>(pad(p)[1]));
    obs.lowdim["object_state"] = o;  // (24)
  }
  bool check_success() const override {
    const Goal& g = kGoals[goal_];
    const mjtNum* b = d_->xpos + 3 * block_[g.block];
    bool open = arms_[0].gripper_opening(d_) > 0.5;
    switch (g.kind) {
      case kOnPad:
        return std::hypot(b[0] - pad(g.target)[0], b[1] - pad(g.target)[1]) < 0.035 && b[2] < kHalf + 0.005 && open;
      case kOnBlock: {
        const mjtNum* o = d_->xpos + 3 * block_[g.target];
        return std::hypot(b[0] - o[0], b[1] - o[1]) < 0.02 && std::abs(b[2] - o[2] - 2 * kHalf) < 0.01 && open;
      }
      case kToEdge:  // near the edge, still on the table
        return g.target * b[1] >= kAtEdge && g.target * b[1] < kEdge && b[2] < kHalf + 0.01;
      default:
        return b[2] >= kHalf + 0.10;
    }
  }

 private:
  int block_[2], joint_[2], pad_mocap_[2], goal_ = 0;
};

// Pushes a block along y to a table edge with the closed gripper: behind the block, down, then along y
// while keeping the fingers on the block's centre line (closed loop on the block's measured x).
class EdgePush {
 public:
  EdgePush(const MultiEnv& env, int block, int side, uint64_t seed, bool clean)
      : env_(env), block_(block), side_(side),
        driver_(static_cast<const mjModel*>(env.model()), static_cast<const mjData*>(env.data()), env.arms()[0]),
        jitter_(seed, !clean) {}

  void act(float* action) {
    const mjData* d = static_cast<const mjData*>(env_.data());
    const double dt = 1.0 / env_.spec().control_hz;
    const mjtNum* b = d->xpos + 3 * block_;
    const mjtNum* g = env_.grip_pos(0);
    const double behind = b[1] - side_ * (kHalf + 0.025);  // fingers' centre, clear of the block
    GripPose goal = driver_.commanded();
    bool paused = jitter_.pause();
    driver_.grip = 0;
    switch (phase_) {
      case 0:  // above the spot behind the block
      case 1:  // down to just above the table
        goal.pos = {b[0], behind, phase_ == 0 ? 0.09 : 0.03};
        if (reach(driver_, goal, phase_ == 0 ? 0.35 : 0.18, dt, g, phase_ == 0 ? 0.015 : 0.008, paused)) ++phase_;
        break;
      default:  // push past the success line, steering onto the block's centre line
        goal.pos = {b[0], side_ * (kAtEdge + 0.03) - side_ * (kHalf + 0.012), 0.03};
        if (!paused) driver_.move_toward(goal, 0.12, dt);
        if (side_ * (g[1] - b[1]) > -kHalf) phase_ = 0;  // slipped past the block's side: approach again
    }
    driver_.jitter = jitter_.next();
    driver_.action(action);
  }

 private:
  const MultiEnv& env_;
  int block_, side_;
  ArmDriver driver_;
  Jitter jitter_;
  int phase_ = 0;
};

class MultiExpert : public Expert {
 public:
  MultiExpert(const Env& env, uint64_t seed, bool clean)
      : env_(dynamic_cast<const MultiEnv&>(env)), script_(env_, env_.block(env_.goal_spec().block), kHalf, seed, clean) {
    const Goal& g = env_.goal_spec();
    script_.has_place = g.kind != kLift;
    script_.lift_z = g.kind == kLift ? 0.2 : 0.14;
    if (g.kind == kToEdge) push_ = std::make_unique<EdgePush>(env_, env_.block(g.block), g.target, seed, clean);
  }
  std::vector<float> act(const Env&) override {
    const Goal& g = env_.goal_spec();
    std::vector<float> a(7);
    if (push_) {
      push_->act(a.data());
      return a;
    }
    if (g.kind == kOnPad) {
      script_.place = {env_.pad(g.target)[0], env_.pad(g.target)[1], kHalf + 0.004};
    } else if (g.kind == kOnBlock) {
      const mjtNum* o = static_cast<const mjData*>(env_.data())->xpos + 3 * env_.block(g.target);
      script_.place = {o[0], o[1], o[2] + 2 * kHalf + 0.004};
    }
    script_.act(a.data());
    return a;
  }

 private:
  const MultiEnv& env_;
  PickPlace script_;
  std::unique_ptr<EdgePush> push_;
};

}  // namespace

TaskEntry multi_task_task() {
  return {"multi-task", make_spec,
          [](const EnvOptions& o) -> std::unique_ptr<Env> { return std::make_unique<MultiEnv>(o); },
          [](const Env& env, uint64_t seed, bool clean) -> std::unique_ptr<Expert> {
            return std::make_unique<MultiExpert>(env, seed, clean);
          }};
}

}  // namespace nfp::sim
