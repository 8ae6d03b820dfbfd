// push-two-goals: a planar pusher pushes a block into either of two goal regions. The expert picks a goal
// at random per episode, so demonstrations are bimodal: a regressor that averages them pushes the block
// straight ahead, between the goals, and fails.
//
// Planar physics: pusher and block slide in x and y only (no gravity or table contact), the block's joint
// damping and friction loss make it stop when it is not pushed; the only contact is pusher-block.
#include <cmath>

#include "sim/arm.hpp"
#include "sim/task_env.hpp"
#include "sim/tasks.hpp"

namespace nfp::sim {

namespace {

constexpr double kGoalX = 0.2, kGoalY = 0.2;  // goals at (-kGoalX, kGoalY) and (kGoalX, kGoalY)
constexpr double kGoalRadius = 0.05;          // success: block centre within this of a goal centre
constexpr double kBlockR = 0.04, kPusherR = 0.02;

const char* kXml = R"(<mujoco model="push-two-goals">
  <compiler angle="radian" autolimits="true"/>
  <option timestep="0.01" gravity="0 0 0"/>
  <visual><global offwidth="1024" offheight="1024"/><quality shadowsize="0"/></visual>
  <asset>
    <texture name="sky" type="skybox" builtin="gradient" rgb1=".55 .65 .8" rgb2=".15 .15 .2" width="64" height="64"/>
    <texture name="wood" type="2d" builtin="checker" rgb1=".62 .5 .38" rgb2=".58 .46 .34" width="64" height="64"/>
    <material name="table" texture="wood" texrepeat="6 6"/>
  </asset>
  <worldbody>
    <light pos="0 0 1.5" dir="0 0 -1" diffuse=".9 .9 .9"/>
    <geom name="table" type="box" size="0.45 0.4 0.02" pos="0 0 -0.02" material="table" contype="0" conaffinity="0"/>
    <geom name="goal_left" type="cylinder" size="0.07 0.001" pos="-0.2 0.2 0.001" rgba=".2 .7 .3 1" contype="0" conaffinity="0"/>
    <geom name="goal_right" type="cylinder" size="0.07 0.001" pos="0.2 0.2 0.001" rgba=".2 .4 .8 1" contype="0" conaffinity="0"/>
    <camera name="top" pos="0 -0.55 0.75" xyaxes="1 0 0 0 0.8 0.6" fovy="50"/>
    <body name="block" pos="0 0 0.03">
      <joint name="block_x" type="slide" axis="1 0 0" damping="6" frictionloss="0.3"/>
      <joint name="block_y" type="slide" axis="0 1 0" damping="6" frictionloss="0.3"/>
      <geom type="cylinder" size="0.04 0.03" rgba=".85 .2 .2 1" contype="0" conaffinity="0" mass="0.3"/>
      <geom name="block_collision" type="sphere" size="0.04" rgba="0 0 0 0" contype="1" conaffinity="1" friction="0.2"/>
    </body>
    <body name="pusher" pos="0 0 0.03">
      <joint name="pusher_x" type="slide" axis="1 0 0" damping="20"/>
      <joint name="pusher_y" type="slide" axis="0 1 0" damping="20"/>
      <geom name="pusher_collision" type="sphere" size="0.02" rgba=".2 .2 .22 1" contype="1" conaffinity="1" mass="0.5" friction="0.2"/>
      <geom type="cylinder" size="0.008 0.1" pos="0 0 0.1" rgba=".3 .3 .32 1" contype="0" conaffinity="0" mass="0.01"/>
    </body>
  </worldbody>
  <actuator>
    <position name="pusher_x" joint="pusher_x" kp="200" ctrlrange="-0.4 0.4"/>
    <position name="pusher_y" joint="pusher_y" kp="200" ctrlrange="-0.35 0.4"/>
  </actuator>
</mujoco>
)";

TaskSpec make_spec() {
  TaskSpec s;
  s.name = "push-two-goals";
  s.description = "planar pusher pushes a block into either of two goal regions (bimodal demonstrations)";
  s.action.dim = 2;
  s.action.low = {-0.4f, -0.35f};
  s.action.high = {0.4f, 0.4f};
  s.action.names = {"pusher_x", "pusher_y"};
  s.action.meaning = "absolute planar position target (m) of the pusher on the table";
  s.control_hz = 10;
  s.max_steps = 80;
  s.obs_dims = {{"state", 2}, {"object_state", 4}};
  s.cameras = {"top"};
  s.num_arms = 0;
  s.instructions = {"push the block into a goal region"};
  return s;
}

class PushEnv : public TaskEnv {
 public:
  explicit PushEnv(const EnvOptions& o) : TaskEnv(shared_model("push-two-goals", kXml), make_spec(), o, 10) {
    for (int i = 0; i < 2; ++i) {
      block_q_[i] = m_->jnt_qposadr[require_id(m_, mjOBJ_JOINT, i ? "block_y" : "block_x")];
      pusher_q_[i] = m_->jnt_qposadr[require_id(m_, mjOBJ_JOINT, i ? "pusher_y" : "pusher_x")];
    }
  }
  double block(int i) const { return d_->qpos[block_q_[i]]; }
  double pusher(int i) const { return d_->qpos[pusher_q_[i]]; }
  // Which goal the block is in: 0 left, 1 right, -1 none.
  int goal_reached() const {
    for (int g = 0; g < 2; ++g)
      if (std::hypot(block(0) - (g ? kGoalX : -kGoalX), block(1) - kGoalY) < kGoalRadius) return g;
    return -1;
  }

 protected:
  void init_episode(std::mt19937_64& rng) override {
    d_->qpos[block_q_[0]] = uniform(rng, -0.03, 0.03);
    d_->qpos[block_q_[1]] = uniform(rng, -0.07, -0.03);
    d_->qpos[pusher_q_[0]] = d_->ctrl[0] = uniform(rng, -0.05, 0.05);
    d_->qpos[pusher_q_[1]] = d_->ctrl[1] = uniform(rng, -0.24, -0.18);
  }
  void apply_action(const float* a) override { d_->ctrl[0] = a[0], d_->ctrl[1] = a[1]; }
  void lowdim(Observation& obs) const override {
    float px = static_cast<float>(pusher(0)), py = static_cast<float>(pusher(1));
    float bx = static_cast<float>(block(0)), by = static_cast<float>(block(1));
    obs.lowdim["state"] = {px, py};                        // (2) pusher position
    obs.lowdim["object_state"] = {bx, by, bx - px, by - py};  // (4) block position, block - pusher
  }
  bool check_success() const override { return goal_reached() >= 0; }

 private:
  int block_q_[2], pusher_q_[2];
};

// Approach a point behind the block (seen from the goal), then push it along the block-goal line.
class PushExpert : public Expert {
 public:
  PushExpert(const Env& env, uint64_t seed, bool clean) : jitter_(seed, !clean, 0.003) {
    std::mt19937_64 rng(seed * 7919 + 17);
    goal_x_ = std::uniform_int_distribution<int>(0, 1)(rng) ? kGoalX : -kGoalX;
    auto& e = dynamic_cast<const PushEnv&>(env);
    cmd_[0] = e.pusher(0), cmd_[1] = e.pusher(1);
  }
  std::vector<float> act(const Env& env) override {
    auto& e = dynamic_cast<const PushEnv&>(env);
    const double dt = 1.0 / e.spec().control_hz;
    double bx = e.block(0), by = e.block(1);
    double ux = goal_x_ - bx, uy = kGoalY - by, n = std::hypot(ux, uy);
    ux /= n, uy /= n;
    const double contact = kBlockR + kPusherR;
    double want_x, want_y, speed;
    if (!pushing_) {
      // Behind the block, with a margin so that the approach does not touch it.
      want_x = bx - (contact + 0.03) * ux, want_y = by - (contact + 0.03) * uy, speed = 0.35;
      if (std::hypot(e.pusher(0) - want_x, e.pusher(1) - want_y) < 0.012) pushing_ = true;
    } else {
      // On the block-goal line, leading into the block, steering so that the contact normal (block minus
      // pusher) turns toward the goal direction: the block moves along the normal.
      double nx = bx - e.pusher(0), ny = by - e.pusher(1), nn = std::hypot(nx, ny);
      nx /= nn, ny /= nn;
      double cx = ux + 1.5 * (ux - nx), cy = uy + 1.5 * (uy - ny), cn = std::hypot(cx, cy);
      cx /= cn, cy /= cn;
      want_x = bx - (contact - 0.025) * cx, want_y = by - (contact - 0.025) * cy, speed = 0.25;
    }
    if (!jitter_.pause()) {
      double dx = want_x - cmd_[0], dy = want_y - cmd_[1], d = std::hypot(dx, dy), step = speed * dt;
      double f = d > step ? step / d : 1.0;
      cmd_[0] += f * dx, cmd_[1] += f * dy;
    }
    auto j = jitter_.next();
    return {static_cast<float>(cmd_[0] + j[0]), static_cast<float>(cmd_[1] + j[1])};
  }

 private:
  Jitter jitter_;
  double goal_x_;
  bool pushing_ = false;
  double cmd_[2];
};

}  // namespace

TaskEntry push_two_goals_task() {
  return {"push-two-goals", make_spec, [](const EnvOptions& o) -> std::unique_ptr<Env> { return std::make_unique<PushEnv>(o); },
          [](const Env& env, uint64_t seed, bool clean) -> std::unique_ptr<Expert> {
            return std::make_unique<PushExpert>(env, seed, clean);
          }};
}

}  // namespace nfp::sim
