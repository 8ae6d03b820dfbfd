#include "sim/arm.hpp"

#include <cmath>
#include <cstdio>

#include "nfp/error.hpp"
#include "sim/task_env.hpp"

namespace nfp::sim {

namespace {

std::string fmt(const char* format, double a = 0, double b = 0, double c = 0, double d = 0) {
  char buf[256];
  std::snprintf(buf, sizeof(buf), format, a, b, c, d);
  return buf;
}

const char* kJoints[6] = {"waist", "shoulder", "elbow", "forearm_roll", "wrist_pitch", "wrist_roll"};
const double kLow[6] = {-3.0, -1.8, -1.6, -3.0, -2.2, -3.0};
const double kHigh[6] = {3.0, 1.8, 2.6, 3.0, 2.2, 3.0};
const double kKp[6] = {120, 120, 100, 30, 30, 30};

}  // namespace

std::string scene_header_xml(const std::string& model_name, double timestep) {
  return "<mujoco model=\"" + model_name + "\">\n"
         "  <compiler angle=\"radian\" autolimits=\"true\"/>\n"
         // Newton solver capped at 20 iterations to 1e-6 (MuJoCo's default: 100 to 1e-8): ~10% more control
         // steps/s on insertion's many peg-socket contacts (interleaved runs), same expert success (100 seeds per task).
         "  <option timestep=\"" + fmt("%g", timestep) + "\" cone=\"elliptic\" impratio=\"5\" iterations=\"20\""
         " tolerance=\"1e-6\"/>\n"
         "  <visual><global offwidth=\"1024\" offheight=\"1024\"/><quality shadowsize=\"0\"/>"
         "<map znear=\"0.01\"/></visual>\n"
         "  <asset>\n"
         "    <texture name=\"sky\" type=\"skybox\" builtin=\"gradient\" rgb1=\".55 .65 .8\" rgb2=\".15 .15 .2\" width=\"64\" height=\"64\"/>\n"
         "    <texture name=\"wood\" type=\"2d\" builtin=\"checker\" rgb1=\".62 .5 .38\" rgb2=\".58 .46 .34\" width=\"64\" height=\"64\"/>\n"
         "    <material name=\"table\" texture=\"wood\" texrepeat=\"6 6\"/>\n"
         "    <material name=\"link\" rgba=\".75 .75 .78 1\"/>\n"
         "    <material name=\"dark\" rgba=\".2 .2 .22 1\"/>\n"
         "  </asset>\n"
         "  <default>\n"
         "    <geom contype=\"0\" conaffinity=\"0\" material=\"link\"/>\n"
         "    <joint damping=\"4\" armature=\"0.05\"/>\n"
         "    <default class=\"object\"><geom contype=\"1\" conaffinity=\"1\" condim=\"4\" friction=\"1 0.02 0.001\""
         " solref=\"0.01 1\"/></default>\n"
         "    <default class=\"finger\"><geom contype=\"2\" conaffinity=\"1\" condim=\"4\" friction=\"1.5 0.02 0.001\""
         " solref=\"0.01 1\" material=\"dark\"/></default>\n"
         "  </default>\n";
}

std::string table_xml(double half_x, double half_y) {
  return "    <light pos=\"0 -0.4 1.5\" dir=\"0 0.3 -1\" diffuse=\".8 .8 .8\"/>\n"
         "    <light pos=\"0.6 0.6 1.2\" dir=\"-0.4 -0.4 -1\" diffuse=\".3 .3 .3\"/>\n" +
         // The visible table is a box; contacts use a plane at its top (plane-box contacts are far cheaper).
         fmt("    <geom name=\"table\" type=\"box\" size=\"%g %g 0.02\" pos=\"0 0 -0.02\" material=\"table\"/>\n"
             "    <geom name=\"table_top\" type=\"plane\" size=\"%g %g 0.01\" rgba=\"0 0 0 0\""
             " contype=\"1\" conaffinity=\"0\" condim=\"3\"/>\n", half_x, half_y, half_x, half_y) +
         "    <camera name=\"top\" pos=\"0 -0.75 0.85\" xyaxes=\"1 0 0 0 0.75 0.66\" fovy=\"50\"/>\n";
}

// Replaces every '$' in `text` with `prefix`.
static std::string with_prefix(std::string text, const std::string& prefix) {
  for (size_t i = text.find('$'); i != std::string::npos; i = text.find('$', i + prefix.size()))
    text.replace(i, 1, prefix);
  return text;
}

std::string arm_body_xml(const std::string& p, double x, double y, double yaw) {
  std::string xml = fmt("    <body name=\"$base\" pos=\"%g %g 0\" euler=\"0 0 %g\">\n", x, y, yaw) + R"(
      <geom type="cylinder" size="0.06 0.02" pos="0 0 0.02" material="dark"/>
      <body name="$waist_link" pos="0 0 0.04">
        <joint name="$waist" axis="0 0 1" range="-3 3"/>
        <geom type="cylinder" size="0.04 0.04" pos="0 0 0.04"/>
        <body name="$upper_arm" pos="0 0 0.08">
          <joint name="$shoulder" axis="0 1 0" range="-1.8 1.8"/>
          <geom type="capsule" fromto="0 0 0 0 0 0.25" size="0.025"/>
          <body name="$forearm" pos="0 0 0.25">
            <joint name="$elbow" axis="0 1 0" range="-1.6 2.6"/>
            <geom type="capsule" fromto="0 0 0 0.1 0 0" size="0.022"/>
            <body name="$forearm_link" pos="0.1 0 0">
              <joint name="$forearm_roll" axis="1 0 0" range="-3 3" damping="2"/>
              <geom type="capsule" fromto="0 0 0 0.12 0 0" size="0.02"/>
              <body name="$wrist" pos="0.12 0 0">
                <joint name="$wrist_pitch" axis="0 1 0" range="-2.2 2.2" damping="2"/>
                <geom type="capsule" fromto="0 0 0 0.035 0 0" size="0.018"/>
                <body name="$hand" pos="0.05 0 0">
                  <joint name="$wrist_roll" axis="1 0 0" range="-3 3" damping="2"/>
                  <geom type="box" size="0.015 0.055 0.02" pos="0.015 0 0" material="dark" mass="0.1"/>
                  <camera name="$wrist" pos="-0.02 0 0.07" xyaxes="0 -1 0 0.5 0 0.866" fovy="70"/>
                  <site name="$grip" pos="0.1 0 0" size="0.005" rgba="1 0 0 0"/>
                  <body name="$finger_a" pos="0.03 0 0">
                    <joint name="$finger_a" type="slide" axis="0 1 0" range="0 0.045" damping="8" armature="0.02"/>
                    <geom class="finger" type="box" size="0.045 0.006 0.012" pos="0.045 0.006 0" mass="0.03"/>
                  </body>
                  <body name="$finger_b" pos="0.03 0 0">
                    <joint name="$finger_b" type="slide" axis="0 -1 0" range="0 0.045" damping="8" armature="0.02"/>
                    <geom class="finger" type="box" size="0.045 0.006 0.012" pos="0.045 -0.006 0" mass="0.03"/>
                  </body>
                </body>
              </body>
            </body>
          </body>
        </body>
      </body>
    </body>
)";
  return with_prefix(xml, p);
}

std::string arm_actuator_xml(const std::string& p) {
  std::string xml;
  for (int j = 0; j < 6; ++j)
    xml += "    <position name=\"$" + std::string(kJoints[j]) + "\" joint=\"$" + kJoints[j] + "\"" +
           fmt(" kp=\"%g\" ctrlrange=\"%g %g\"/>\n", kKp[j], kLow[j], kHigh[j]);
  xml += "    <position name=\"$gripper\" joint=\"$finger_a\" kp=\"400\" ctrlrange=\"0 0.045\" forcerange=\"-15 15\"/>\n";
  return with_prefix(xml, p);
}

std::string arm_equality_xml(const std::string& p) {
  return with_prefix("    <joint joint1=\"$finger_b\" joint2=\"$finger_a\" polycoef=\"0 1 0 0 0\" solref=\"0.005 1\"/>\n", p);
}

std::string arm_contact_xml(const std::string& p) {
  return with_prefix("    <exclude body1=\"$finger_a\" body2=\"$finger_b\"/>\n", p);
}

std::string arm_scene_xml(const std::string& model_name, double table_half_x, double table_half_y,
                          const std::vector<ArmPlacement>& arms, const std::string& objects_xml) {
  std::string bodies, actuators, equality, contact;
  for (const auto& a : arms) {
    bodies += arm_body_xml(a.prefix, a.x, a.y, a.yaw);
    actuators += arm_actuator_xml(a.prefix);
    equality += arm_equality_xml(a.prefix);
    contact += arm_contact_xml(a.prefix);
  }
  return scene_header_xml(model_name, kArmTimestep) + "  <worldbody>\n" + table_xml(table_half_x, table_half_y) +
         bodies + objects_xml + "  </worldbody>\n  <actuator>\n" + actuators + "  </actuator>\n  <equality>\n" +
         equality + "  </equality>\n  <contact>\n" + contact + "  </contact>\n</mujoco>\n";
}

Arm Arm::find(const mjModel* m, const std::string& p, double base_yaw) {
  Arm a;
  for (int j = 0; j < 6; ++j) {
    int jid = require_id(m, mjOBJ_JOINT, p + kJoints[j]);
    a.qpos[j] = m->jnt_qposadr[jid];
    a.dof[j] = m->jnt_dofadr[jid];
    a.act[j] = require_id(m, mjOBJ_ACTUATOR, p + kJoints[j]);
  }
  a.grip_act = require_id(m, mjOBJ_ACTUATOR, p + "gripper");
  a.finger_qpos[0] = m->jnt_qposadr[require_id(m, mjOBJ_JOINT, p + "finger_a")];
  a.finger_qpos[1] = m->jnt_qposadr[require_id(m, mjOBJ_JOINT, p + "finger_b")];
  a.site = require_id(m, mjOBJ_SITE, p + "grip");
  a.hand_body = require_id(m, mjOBJ_BODY, p + "hand");
  a.base_body = require_id(m, mjOBJ_BODY, p + "base");
  a.base_yaw = base_yaw;
  return a;
}

void Arm::state(const mjData* d, float* out) const {
  for (int j = 0; j < 6; ++j) out[j] = static_cast<float>(d->qpos[qpos[j]]);
  out[6] = static_cast<float>(gripper_opening(d));
}

double Arm::gripper_opening(const mjData* d) const {
  return 0.5 * (d->qpos[finger_qpos[0]] + d->qpos[finger_qpos[1]]) / kFingerMax;
}

void Arm::apply(const mjModel* m, mjData* d, const float* action) const {
  for (int j = 0; j < 6; ++j) d->ctrl[act[j]] = action[j];
  d->ctrl[grip_act] = std::min(std::max(static_cast<double>(action[6]), 0.0), 1.0) * kFingerMax;
}

void Arm::compensate_gravity(mjData* d) const {
  for (int j = 0; j < 6; ++j) d->qfrc_applied[dof[j]] = d->qfrc_bias[dof[j]];
}

void Arm::set_joints(const mjModel* m, mjData* d, const double* q, double grip) const {
  for (int j = 0; j < 6; ++j) d->qpos[qpos[j]] = d->ctrl[act[j]] = q[j];
  d->qpos[finger_qpos[0]] = d->qpos[finger_qpos[1]] = d->ctrl[grip_act] = grip * kFingerMax;
}

std::array<double, 6> arm_home() { return {0.0, 0.12, -0.04, 0.0, 1.49, 0.0}; }

void arm_action_spec(const std::string& p, std::vector<float>& low, std::vector<float>& high,
                     std::vector<std::string>& names) {
  for (int j = 0; j < 6; ++j) {
    low.push_back(static_cast<float>(kLow[j]));
    high.push_back(static_cast<float>(kHigh[j]));
    names.push_back(p + kJoints[j]);
  }
  low.push_back(0), high.push_back(1), names.push_back(p + "gripper");
}

ArmDriver::ArmDriver(const mjModel* m, const mjData* d, const Arm& arm) : m_(m), arm_(arm), scratch_(mj_makeData(m)) {
  for (int j = 0; j < 6; ++j) q_cmd_[j] = d->ctrl[arm.act[j]];
  grip = d->ctrl[arm.grip_act] / kFingerMax;
  auto pos = site_pos(q_cmd_.data());
  target_.pos = pos;
  const mjtNum* R = scratch_->site_xmat + 9 * arm.site;  // hand y axis = column 1 = finger axis
  target_.yaw = std::atan2(-R[1], R[4]);
}

ArmDriver::~ArmDriver() { mj_deleteData(scratch_); }

std::array<double, 3> ArmDriver::site_pos(const double* q) {
  for (int j = 0; j < 6; ++j) scratch_->qpos[arm_.qpos[j]] = q[j];
  mj_kinematics(m_, scratch_);
  const mjtNum* x = scratch_->site_xpos + 3 * arm_.site;
  return {x[0], x[1], x[2]};
}

bool ArmDriver::move_toward(const GripPose& goal, double speed, double dt) {
  double dx[3], dist = 0;
  for (int i = 0; i < 3; ++i) dx[i] = goal.pos[i] - target_.pos[i], dist += dx[i] * dx[i];
  dist = std::sqrt(dist);
  double step = speed * dt, frac = dist > step ? step / dist : 1.0;
  for (int i = 0; i < 3; ++i) target_.pos[i] += frac * dx[i];
  double dyaw = std::remainder(goal.yaw - target_.yaw, 2 * M_PI), ystep = 2.0 * dt;
  target_.yaw += std::min(std::max(dyaw, -ystep), ystep);
  return dist <= step && std::abs(dyaw) <= ystep;
}

void ArmDriver::action(float* out) {
  // Desired site frame, pointing down: x = (0,0,-1), y = (-sin yaw, cos yaw, 0), z = x cross y.
  double c = std::cos(target_.yaw), s = std::sin(target_.yaw);
  const mjtNum R_des[9] = {0, -s, c, 0, c, s, -1, 0, 0};  // row-major, columns are the axes
  mjtNum quat_des[4];
  mju_mat2Quat(quat_des, R_des);
  double goal[3];
  for (int i = 0; i < 3; ++i) goal[i] = target_.pos[i] + jitter[i];
  std::vector<mjtNum> jacp(3 * m_->nv), jacr(3 * m_->nv);
  for (int iter = 0; iter < 8; ++iter) {
    for (int j = 0; j < 6; ++j) scratch_->qpos[arm_.qpos[j]] = q_cmd_[j];
    mj_kinematics(m_, scratch_);
    mj_comPos(m_, scratch_);
    mjtNum err[6], quat[4], neg[4], dq4[4];
    for (int i = 0; i < 3; ++i) err[i] = goal[i] - scratch_->site_xpos[3 * arm_.site + i];
    mju_mat2Quat(quat, scratch_->site_xmat + 9 * arm_.site);
    mju_negQuat(neg, quat);
    mju_mulQuat(dq4, quat_des, neg);
    mju_quat2Vel(err + 3, dq4, 1);
    double norm = 0;
    for (double e : err) norm += e * e;
    if (norm < 1e-10) break;
    mj_jacSite(m_, scratch_, jacp.data(), jacr.data(), arm_.site);
    // Damped least squares: dq = J^T (J J^T + lambda^2 I)^-1 err, J (6 x 6) over the arm's dofs.
    mjtNum J[36], A[36], y[6];
    for (int r = 0; r < 6; ++r)
      for (int j = 0; j < 6; ++j) J[6 * r + j] = (r < 3 ? jacp[r * m_->nv + arm_.dof[j]] : jacr[(r - 3) * m_->nv + arm_.dof[j]]);
    for (int r = 0; r < 6; ++r)
      for (int c2 = 0; c2 < 6; ++c2) {
        double sum = r == c2 ? 1e-4 : 0.0;
        for (int k = 0; k < 6; ++k) sum += J[6 * r + k] * J[6 * c2 + k];
        A[6 * r + c2] = sum;
      }
    mju_cholFactor(A, 6, 1e-8);
    mju_cholSolve(y, A, err, 6);
    for (int j = 0; j < 6; ++j) {
      double dq = 0;
      for (int r = 0; r < 6; ++r) dq += J[6 * r + j] * y[r];
      dq = std::min(std::max(dq, -0.3), 0.3);
      q_cmd_[j] = std::min(std::max(q_cmd_[j] + dq, kLow[j]), kHigh[j]);
    }
  }
  for (int j = 0; j < 6; ++j) out[j] = static_cast<float>(q_cmd_[j]);
  out[6] = static_cast<float>(grip);
}

Jitter::Jitter(uint64_t seed, bool enabled, double sigma) : rng_(seed ^ 0x9e3779b97f4a7c15ull), enabled_(enabled), sigma_(sigma) {}

std::array<double, 3> Jitter::next() {
  if (!enabled_) return {0, 0, 0};
  std::normal_distribution<double> n(0, 1);
  // OU process with a ~5-step correlation time and stationary std sigma.
  const double theta = 0.2;
  for (double& x : x_) x += -theta * x + sigma_ * std::sqrt(2 * theta) * n(rng_);
  return x_;
}

bool Jitter::pause() {
  if (!enabled_) return false;
  if (pause_left_ > 0) {
    --pause_left_;
    return true;
  }
  if (std::uniform_real_distribution<double>(0, 1)(rng_) < 0.02)
    pause_left_ = std::uniform_int_distribution<int>(2, 5)(rng_);
  return false;
}

}  // namespace nfp::sim
