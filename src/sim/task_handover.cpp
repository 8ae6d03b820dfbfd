// handover: two arms face each other across a table (RoboTwin Handover Block / ACT transfer cube). A bar
// lies on one side; the arm on that side picks it up by its near end and holds it over the middle, the
// other arm grasps the far end, the first lets go, and the second places the bar on the pad on its side.
// Success: the bar rests on the pad (centre within 4 cm) and both grippers are open.
#include <cmath>

#include "sim/arm_task.hpp"
#include "sim/tasks.hpp"

namespace nfp::sim {

namespace {

constexpr double kBaseX = 0.38;     // arm bases at (-kBaseX, 0) and (kBaseX, 0)
constexpr double kBarHalf = 0.06;   // bar half length (x); half width and height 0.02
constexpr double kGripOffset = 0.035;  // each arm grasps the bar this far from its centre
constexpr double kPadX = 0.17;      // pad at (-side * kPadX, 0), on the receiver's side
constexpr double kHandZ = 0.14;     // bar centre height during the handover

std::string xml() {
  return arm_scene_xml("handover", 0.6, 0.4, {{"left_", -kBaseX, 0, 0}, {"right_", kBaseX, 0, M_PI}},
         "    <geom name=\"pad_left\" type=\"box\" size=\"0.07 0.045 0.001\" pos=\"-0.17 0 0.001\" rgba=\".2 .7 .3 1\"/>\n"
         "    <geom name=\"pad_right\" type=\"box\" size=\"0.07 0.045 0.001\" pos=\"0.17 0 0.001\" rgba=\".2 .7 .3 1\"/>\n"
         "    <body name=\"bar\" pos=\"0 0 0.02\"><freejoint name=\"bar\"/>"
         "<geom class=\"object\" type=\"box\" size=\"0.06 0.02 0.02\" mass=\"0.08\" rgba=\".85 .2 .2 1\"/></body>\n");
}

TaskSpec make_spec() {
  TaskSpec s;
  s.name = "handover";
  s.description = "the arm on the bar's side picks it up and hands it to the other arm, which places it on a pad";
  arm_task_spec(s, {"left_", "right_"});
  s.control_hz = 10;
  s.max_steps = 150;
  s.obs_dims["object_state"] = 15;
  s.instructions = {"hand the red bar over to the other arm and place it on the green pad"};
  return s;
}

class HandoverEnv : public ArmTaskEnv {
 public:
  explicit HandoverEnv(const EnvOptions& o)
      : ArmTaskEnv(shared_model("handover", xml()), make_spec(), o, kArmSubsteps, {{"left_", 0.0}, {"right_", M_PI}}) {
    bar_body_ = require_id(m_, mjOBJ_BODY, "bar");
    bar_joint_ = require_id(m_, mjOBJ_JOINT, "bar");
  }
  int bar() const { return bar_body_; }
  int side() const { return side_; }  // -1: bar starts on the left (left arm gives), +1: on the right
  double pad_x() const { return -side_ * kPadX; }

 protected:
  void init_episode(std::mt19937_64& rng) override {
    init_arms(rng);
    side_ = std::uniform_int_distribution<int>(0, 1)(rng) ? 1 : -1;
    set_free_pose(m_, d_, bar_joint_, side_ * uniform(rng, 0.12, 0.18), uniform(rng, -0.08, 0.08), 0.02,
                  uniform(rng, -0.3, 0.3));
  }
  void lowdim(Observation& obs) const override {
    obs.lowdim["state"] = arm_state();  // (14)
    std::vector<float> o;
    append_object(o, bar_body_, 0);  // bar pos, quat, bar - left grip (10)
    for (int i = 0; i < 3; ++i) o.push_back(static_cast<float>(d_->xpos[3 * bar_body_ + i] - grip_pos(1)[i]));
    o.push_back(static_cast<float>(pad_x())), o.push_back(0);  // pad centre (2)
    obs.lowdim["object_state"] = o;  // (15)
  }
  bool check_success() const override {
    const mjtNum* b = d_->xpos + 3 * bar_body_;
    return std::hypot(b[0] - pad_x(), b[1]) < 0.04 && b[2] < 0.025 && arms_[0].gripper_opening(d_) > 0.5 &&
           arms_[1].gripper_opening(d_) > 0.5;
  }

 private:
  int bar_body_, bar_joint_, side_ = 1;
};

class HandoverExpert : public Expert {
 public:
  HandoverExpert(const Env& env, uint64_t seed, bool clean)
      : env_(dynamic_cast<const HandoverEnv&>(env)),
        giver_index_(env_.side() < 0 ? 0 : 1),
        giver_(model(), data(), env_.arms()[giver_index_]),
        taker_(model(), data(), env_.arms()[1 - giver_index_]),
        jitter_g_(seed, !clean),
        jitter_t_(seed + 1000003, !clean) {}

  std::vector<float> act(const Env&) override {
    const mjData* d = data();
    const double dt = 1.0 / env_.spec().control_hz;
    const int side = env_.side();
    const mjtNum* b = d->xpos + 3 * env_.bar();
    const double yaw = body_yaw(d, env_.bar());
    const mjtNum* gs = env_.grip_pos(giver_index_);
    const mjtNum* ts = env_.grip_pos(1 - giver_index_);
    // The giver holds the end near itself (side * offset along the bar's axis), the taker the other end.
    auto along = [&](double a, double z) {
      return std::array<double, 3>{b[0] + a * std::cos(yaw), b[1] + a * std::sin(yaw), z};
    };
    const double a_giver = (side > 0 ? 1 : -1) * kGripOffset * (std::cos(yaw) > 0 ? 1 : -1);
    GripPose g = giver_.commanded(), t = taker_.commanded();
    double natural_g = side > 0 ? M_PI : 0.0, natural_t = side > 0 ? 0.0 : M_PI;
    bool pg = jitter_g_.pause(), pt = jitter_t_.pause();
    switch (phase_) {
      case 0:  // giver above the near end
        g.pos = along(a_giver, 0.10), g.yaw = grasp_yaw(yaw, natural_g, M_PI);
        if (reach(giver_, g, 0.35, dt, gs, 0.015, pg)) next();
        break;
      case 1:  // down
        g.pos = along(a_giver, 0.028), g.yaw = grasp_yaw(yaw, natural_g, M_PI);
        if (reach(giver_, g, 0.18, dt, gs, 0.008, pg)) next();
        break;
      case 2:  // close
        giver_.grip = 0;
        if (++timer_ >= 5) next(), hold_ = {gs[0] - b[0], gs[1] - b[1], gs[2] - b[2]};
        break;
      case 3:  // carry the bar's centre over the middle
        g.pos = {hold_[0], hold_[1], kHandZ + hold_[2]};
        if (reach(giver_, g, 0.25, dt, gs, 0.012, pg)) next();
        break;
      case 4:  // taker above the far end, then down
      case 5:
        t.pos = along(-a_giver, phase_ == 4 ? b[2] + 0.07 : b[2] + 0.008);
        t.yaw = grasp_yaw(yaw, natural_t, M_PI);
        if (reach(taker_, t, phase_ == 4 ? 0.35 : 0.15, dt, ts, phase_ == 4 ? 0.015 : 0.008, pt)) next();
        break;
      case 6:  // taker closes
        taker_.grip = 0;
        if (++timer_ >= 5) next();
        break;
      case 7:  // giver lets go and backs off
        giver_.grip = 1;
        if (++timer_ >= 3) next(), hold_ = {ts[0] - b[0], ts[1] - b[1], ts[2] - b[2]};
        break;
      case 8:  // taker carries the bar over the pad
        t.pos = {env_.pad_x() + hold_[0], hold_[1], 0.06 + hold_[2]};
        if (reach(taker_, t, 0.25, dt, ts, 0.012, pt)) next();
        break;
      case 9:  // lowers it
        t.pos = {env_.pad_x() + hold_[0], hold_[1], 0.021 + hold_[2]};
        if (reach(taker_, t, 0.12, dt, ts, 0.008, pt)) next();
        break;
      case 10:  // releases
        taker_.grip = 1;
        if (++timer_ >= 3) next();
        break;
      default:  // both up
        t.pos[2] = 0.12;
        if (!pt) taker_.move_toward(t, 0.2, dt);
    }
    if (phase_ >= 8) {  // giver retreats up and away
      g.pos = {side * 0.12, g.pos[1], 0.2};
      if (!pg) giver_.move_toward(g, 0.25, dt);
    }
    giver_.jitter = jitter_g_.next();
    taker_.jitter = jitter_t_.next();
    std::vector<float> a(14);
    float* ga = a.data() + 7 * giver_index_;
    float* ta = a.data() + 7 * (1 - giver_index_);
    giver_.action(ga);
    taker_.action(ta);
    return a;
  }

 private:
  const mjModel* model() const { return static_cast<const mjModel*>(env_.model()); }
  const mjData* data() const { return static_cast<const mjData*>(env_.data()); }
  void next() { ++phase_, timer_ = 0; }

  const HandoverEnv& env_;
  int giver_index_;
  ArmDriver giver_, taker_;
  Jitter jitter_g_, jitter_t_;
  int phase_ = 0, timer_ = 0;
  std::array<double, 3> hold_{};  // grip site minus bar centre while held
};

}  // namespace

TaskEntry handover_task() {
  return {"handover", make_spec,
          [](const EnvOptions& o) -> std::unique_ptr<Env> { return std::make_unique<HandoverEnv>(o); },
          [](const Env& env, uint64_t seed, bool clean) -> std::unique_ptr<Expert> {
            return std::make_unique<HandoverExpert>(env, seed, clean);
          }};
}

}  // namespace nfp::sim
