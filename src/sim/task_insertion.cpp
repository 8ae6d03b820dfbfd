// insertion (ACT insertion, two arms): a socket (a square sleeve built from four box walls, open at both
// ends) lies on the left half of the table, a peg on the right. The left arm grasps the socket, the right
// arm the peg's outer end; both lift, and the peg is pushed into the socket in the air.
// Success: one end of the peg is at least kDepth = 3 cm inside the socket (past the mouth on the peg's side,
// within the hole laterally) while the socket is off the table (centre ≥ 2 cm above its resting height).
#include <cmath>
#include <cstdio>

#include "sim/arm_task.hpp"
#include "sim/tasks.hpp"

namespace nfp::sim {

namespace {

constexpr double kBaseX = 0.38;       // arm bases at (-kBaseX, 0) and (kBaseX, 0)
constexpr double kSockHalfLen = 0.04;  // socket: 8 cm long (x)
constexpr double kSockOuter = 0.028;   // outer half width and height
constexpr double kHole = 0.017;        // hole half width: 3.4 cm square
constexpr double kPegHalfLen = 0.06;   // peg: 12 cm long (x)
constexpr double kPeg = 0.012;         // peg half width: 2.4 cm square (5 mm clearance per side)
constexpr double kPegGrasp = 0.035;    // the right arm grasps the peg this far from its centre, outwards
constexpr double kDepth = 0.03;        // success: insertion depth
constexpr double kMeetZ = 0.13;        // socket centre height while inserting
constexpr double kMeetX = -0.07;       // socket centre x while inserting

std::string fmt(const char* f, double a, double b, double c, double d, double e, double g) {
  char buf[256];
  std::snprintf(buf, sizeof(buf), f, a, b, c, d, e, g);
  return buf;
}

std::string xml() {
  const double wall = (kSockOuter - kHole) / 2;  // half thickness of a wall
  const char* box = "<geom class=\"object\" type=\"box\" size=\"%g %g %g\" pos=\"0 %g %g\" mass=\"%g\" rgba=\".25 .35 .85 1\"/>";
  // The bottom wall slides on the table (friction 0.4, which its priority makes win over the table's 1): a
  // finger that closes first then pushes the socket sideways instead of rolling it over its far edge.
  std::string bottom = fmt("<geom class=\"object\" type=\"box\" size=\"%g %g %g\" pos=\"0 %g %g\" mass=\"%g\""
                           " priority=\"1\" friction=\"0.4 0.02 0.001\" rgba=\".25 .35 .85 1\"/>",
                           kSockHalfLen, kSockOuter, wall, 0, -(kHole + wall), 0.03);
  std::string socket = "    <body name=\"socket\" pos=\"-0.15 0 0.028\"><freejoint name=\"socket\"/>" + bottom +
                       fmt(box, kSockHalfLen, kSockOuter, wall, 0, kHole + wall, 0.03) +     // top
                       fmt(box, kSockHalfLen, wall, kHole, -(kHole + wall), 0, 0.02) +       // sides
                       fmt(box, kSockHalfLen, wall, kHole, kHole + wall, 0, 0.02) + "</body>\n";
  std::string peg = "    <body name=\"peg\" pos=\"0.15 0 0.012\"><freejoint name=\"peg\"/>" +
                    fmt("<geom class=\"object\" type=\"box\" size=\"%g %g %g\" mass=\"%g\" rgba=\".85 .2 .2 1\"/>",
                        kPegHalfLen, kPeg, kPeg, 0.04, 0, 0) + "</body>\n";
  return arm_scene_xml("insertion", 0.6, 0.4, {{"left_", -kBaseX, 0, 0}, {"right_", kBaseX, 0, M_PI}}, socket + peg);
}

TaskSpec make_spec() {
  TaskSpec s;
  s.name = "insertion";
  s.description = "the left arm picks up a socket, the right arm a peg; the peg goes 3 cm into the socket in the air";
  arm_task_spec(s, {"left_", "right_"});
  s.control_hz = 10;
  s.max_steps = 150;
  s.obs_dims["object_state"] = 20;
  s.instructions = {"pick up the blue socket and the red peg and insert the peg into the socket"};
  return s;
}

// Unit x axis of a body (row-major xmat: column 0), flipped to point toward +x of the world.
std::array<double, 3> axis_to_plus_x(const mjData* d, int body) {
  const mjtNum* R = d->xmat + 9 * body;
  double s = R[0] >= 0 ? 1 : -1;
  return {s * R[0], s * R[3], s * R[6]};
}

class InsertionEnv : public ArmTaskEnv {
 public:
  explicit InsertionEnv(const EnvOptions& o)
      : ArmTaskEnv(shared_model("insertion", xml()), make_spec(), o, kArmSubsteps, {{"left_", 0.0}, {"right_", M_PI}}) {
    socket_ = require_id(m_, mjOBJ_BODY, "socket"), peg_ = require_id(m_, mjOBJ_BODY, "peg");
    socket_joint_ = require_id(m_, mjOBJ_JOINT, "socket"), peg_joint_ = require_id(m_, mjOBJ_JOINT, "peg");
  }
  int socket() const { return socket_; }
  int peg() const { return peg_; }

  // How deep the peg's end nearer the socket is inside the socket, measured from the mouth on the peg's
  // side (negative: outside), and its lateral offset from the hole's axis (max of |y|, |z| in the socket frame).
  void insertion(double& depth, double& lateral) const {
    const mjtNum* S = d_->xpos + 3 * socket_;
    const mjtNum* R = d_->xmat + 9 * socket_;
    auto local = [&](const double* p, double* out) {  // out = R^T (p - S)
      double v[3] = {p[0] - S[0], p[1] - S[1], p[2] - S[2]};
      for (int i = 0; i < 3; ++i) out[i] = R[i] * v[0] + R[3 + i] * v[1] + R[6 + i] * v[2];
    };
    const mjtNum* P = d_->xpos + 3 * peg_;
    const mjtNum* Rp = d_->xmat + 9 * peg_;
    double centre[3];
    local(P, centre);
    const double side = centre[0] >= 0 ? 1 : -1;  // the peg comes from this end of the socket
    double best = -1e9, lat = 1e9;
    for (double e : {-1.0, 1.0}) {
      double end[3] = {P[0] + e * kPegHalfLen * Rp[0], P[1] + e * kPegHalfLen * Rp[3], P[2] + e * kPegHalfLen * Rp[6]};
      double q[3];
      local(end, q);
      double dep = kSockHalfLen - side * q[0];
      if (dep > best) best = dep, lat = std::max(std::abs(q[1]), std::abs(q[2]));
    }
    depth = best, lateral = lat;
  }

 protected:
  void init_episode(std::mt19937_64& rng) override {
    init_arms(rng);
    set_free_pose(m_, d_, socket_joint_, -uniform(rng, 0.12, 0.18), uniform(rng, -0.08, 0.08), kSockOuter,
                  uniform(rng, -0.3, 0.3));
    set_free_pose(m_, d_, peg_joint_, uniform(rng, 0.12, 0.18), uniform(rng, -0.08, 0.08), kPeg, uniform(rng, -0.3, 0.3));
  }
  void lowdim(Observation& obs) const override {
    obs.lowdim["state"] = arm_state();  // (14)
    std::vector<float> o;
    append_object(o, socket_, 0);  // socket pos, quat, socket - left grip (10)
    append_object(o, peg_, 1);     // peg pos, quat, peg - right grip (10)
    obs.lowdim["object_state"] = o;  // (20)
  }
  bool check_success() const override {
    double depth, lateral;
    insertion(depth, lateral);
    return depth >= kDepth && lateral < kHole && d_->xpos[3 * socket_ + 2] >= kSockOuter + 0.02;
  }

 private:
  int socket_, peg_, socket_joint_, peg_joint_;
};

// Rotates the world vector v (x, y) by `yaw` about z.
std::array<double, 2> rot(double yaw, double x, double y) {
  return {std::cos(yaw) * x - std::sin(yaw) * y, std::sin(yaw) * x + std::cos(yaw) * y};
}

class InsertionExpert : public Expert {
 public:
  InsertionExpert(const Env& env, uint64_t seed, bool clean)
      : env_(dynamic_cast<const InsertionEnv&>(env)),
        left_(model(), data(), env_.arms()[0]),
        right_(model(), data(), env_.arms()[1]),
        jitter_l_(seed, !clean),
        jitter_r_(seed + 1000003, !clean) {}

  std::vector<float> act(const Env&) override {
    const mjData* d = data();
    const double dt = 1.0 / env_.spec().control_hz;
    const mjtNum* s = d->xpos + 3 * env_.socket();
    const mjtNum* p = d->xpos + 3 * env_.peg();
    const double s_yaw = body_yaw(d, env_.socket()), p_yaw = body_yaw(d, env_.peg());
    const mjtNum* ls = env_.grip_pos(0);
    const mjtNum* rs = env_.grip_pos(1);
    GripPose l = left_.commanded(), r = right_.commanded();
    bool pl = jitter_l_.pause(), pr = jitter_r_.pause();
    // The peg's outer end points toward the right arm (+x).
    const double out = std::cos(p_yaw) >= 0 ? 1 : -1;
    const std::array<double, 3> peg_grasp = {p[0] + out * kPegGrasp * std::cos(p_yaw),
                                             p[1] + out * kPegGrasp * std::sin(p_yaw), p[2]};
    double jitter_scale = 1;
    bool l_ok = false, r_ok = false;
    switch (phase_) {
      case 0:  // above the socket and above the peg's outer end
      case 1:  // down around them
        l.pos = {s[0], s[1], phase_ == 0 ? s[2] + 0.09 : s[2] + 0.018};
        l.yaw = grasp_yaw(s_yaw, 0.0, M_PI);
        r.pos = {peg_grasp[0], peg_grasp[1], phase_ == 0 ? p[2] + 0.09 : p[2] + 0.012};
        r.yaw = grasp_yaw(p_yaw, M_PI, M_PI);
        l_ok = reach(left_, l, phase_ == 0 ? 0.35 : 0.18, dt, ls, phase_ == 0 ? 0.015 : 0.008, pl);
        r_ok = reach(right_, r, phase_ == 0 ? 0.35 : 0.18, dt, rs, phase_ == 0 ? 0.015 : 0.008, pr);
        done_l_ |= l_ok, done_r_ |= r_ok;
        if (done_l_ && done_r_) next();
        break;
      case 2:  // close both
        left_.grip = right_.grip = 0;
        if (++timer_ >= 5) {
          next();
          hold_s_ = local_hold(ls, s, left_.commanded().yaw);
          hold_p_ = local_hold(rs, p, right_.commanded().yaw);
        }
        break;
      case 3:  // lift both
        l.pos[2] = kMeetZ + 0.04, r.pos[2] = kMeetZ + 0.04;
        l_ok = reach(left_, l, 0.25, dt, ls, 0.02, pl);
        r_ok = reach(right_, r, 0.25, dt, rs, 0.02, pr);
        if (l_ok && r_ok) next();
        break;
      case 4: {  // socket to the meeting point, axis along x; peg lined up 2.5 cm outside the mouth
        l.yaw = left_.commanded().yaw - std::remainder(s_yaw, M_PI);
        l.pos = grip_for(hold_s_, l.yaw, {kMeetX, 0, kMeetZ});
        r.yaw = right_.commanded().yaw - std::remainder(p_yaw, M_PI);
        r.pos = grip_for(hold_p_, r.yaw, {kMeetX + kSockHalfLen + 0.025 + kPegHalfLen, 0, kMeetZ});
        l_ok = reach(left_, l, 0.25, dt, ls, 0.012, pl);
        r_ok = reach(right_, r, 0.25, dt, rs, 0.012, pr);
        if (l_ok && r_ok) next();
        break;
      }
      case 5:  // line the peg's tip up with the hole (closed loop on the measured poses)
      case 6: {  // push it in
        jitter_scale = 0.5;  // a person slows down and steadies the hands for the fine part
        auto a_s = axis_to_plus_x(d, env_.socket()), a_p = axis_to_plus_x(d, env_.peg());
        std::array<double, 3> mouth, tip, want;
        for (int i = 0; i < 3; ++i) mouth[i] = s[i] + kSockHalfLen * a_s[i], tip[i] = p[i] - kPegHalfLen * a_p[i];
        // The tip relative to the mouth: along the socket axis (negative: inside) and across it.
        double along = 0, across = 0;
        for (int i = 0; i < 3; ++i) along += (tip[i] - mouth[i]) * a_s[i];
        for (int i = 0; i < 3; ++i) across += std::pow(tip[i] - mouth[i] - along * a_s[i], 2);
        across = std::sqrt(across);
        // Push only while the tip is centred, and never more than 1 cm ahead of where the tip is: a peg that
        // catches the rim is not forced (it would pivot in the fingers).
        if (phase_ == 6 && across < 0.003) insert_ = std::max(insert_ - 0.05 * dt, -kDepth - 0.015);
        if (phase_ == 6) insert_ = std::max(insert_, along - 0.01);
        for (int i = 0; i < 3; ++i) want[i] = mouth[i] + (phase_ == 5 ? 0.02 : insert_) * a_s[i];
        double err = 0;
        for (int i = 0; i < 3; ++i) r.pos[i] = right_.commanded().pos[i] + 0.6 * (want[i] - tip[i]), err += std::pow(want[i] - tip[i], 2);
        r.yaw = right_.commanded().yaw + 0.6 * std::remainder(std::atan2(a_s[1], a_s[0]) - std::atan2(a_p[1], a_p[0]), M_PI);
        // The socket arm holds the socket level at the meeting point.
        l.yaw = left_.commanded().yaw - 0.6 * std::remainder(s_yaw, M_PI);
        if (!pl) left_.move_toward(l, 0.1, dt);
        if (!pr) right_.move_toward(r, 0.1, dt);
        if (phase_ == 5 && std::sqrt(err) < 0.004 && ++timer_ >= 2) next(), insert_ = 0.02;
        break;
      }
      default:
        break;
    }
    left_.jitter = scaled(jitter_l_.next(), jitter_scale);
    right_.jitter = scaled(jitter_r_.next(), jitter_scale);
    std::vector<float> a(14);
    left_.action(a.data());
    right_.action(a.data() + 7);
    return a;
  }

 private:
  const mjModel* model() const { return static_cast<const mjModel*>(env_.model()); }
  const mjData* data() const { return static_cast<const mjData*>(env_.data()); }
  void next() { ++phase_, timer_ = 0, done_l_ = done_r_ = false; }
  static std::array<double, 3> scaled(std::array<double, 3> v, double k) {
    for (double& x : v) x *= k;
    return v;
  }
  // Grip site minus object centre, in the frame of the gripper's yaw: (3)
  static std::array<double, 3> local_hold(const mjtNum* grip, const mjtNum* obj, double yaw) {
    auto xy = rot(-yaw, grip[0] - obj[0], grip[1] - obj[1]);
    return {xy[0], xy[1], grip[2] - obj[2]};
  }
  // Where the grip site goes for the object centre to be at `centre` with the gripper at `yaw`.
  static std::array<double, 3> grip_for(const std::array<double, 3>& hold, double yaw, const std::array<double, 3>& centre) {
    auto xy = rot(yaw, hold[0], hold[1]);
    return {centre[0] + xy[0], centre[1] + xy[1], centre[2] + hold[2]};
  }

  const InsertionEnv& env_;
  ArmDriver left_, right_;
  Jitter jitter_l_, jitter_r_;
  int phase_ = 0, timer_ = 0;
  bool done_l_ = false, done_r_ = false;
  double insert_ = 0.02;  // target of the peg's tip along the socket axis, from the mouth (negative: inside)
  std::array<double, 3> hold_s_{}, hold_p_{};
};

}  // namespace

TaskEntry insertion_task() {
  return {"insertion", make_spec,
          [](const EnvOptions& o) -> std::unique_ptr<Env> { return std::make_unique<InsertionEnv>(o); },
          [](const Env& env, uint64_t seed, bool clean) -> std::unique_ptr<Expert> {
            return std::make_unique<InsertionExpert>(env, seed, clean);
          }};
}

}  // namespace nfp::sim
