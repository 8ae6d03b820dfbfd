// The arm: differential IK reaches commanded poses, gravity compensation holds the arm where it is told.
#include <gtest/gtest.h>
#include <mujoco/mujoco.h>

#include <cmath>

#include "sim/arm.hpp"
#include "sim/task_env.hpp"

using namespace nfp::sim;

namespace {

// One arm on a table, nothing else.
std::string one_arm_xml() {
  return scene_header_xml("arm", kArmTimestep) + "  <worldbody>\n" + table_xml(0.5, 0.4) + arm_body_xml("", 0, 0, 0) +
         "  </worldbody>\n  <actuator>\n" + arm_actuator_xml("") + "  </actuator>\n  <equality>\n" +
         arm_equality_xml("") + "  </equality>\n</mujoco>\n";
}

struct OneArm {
  mjModel* m = compile_xml(one_arm_xml());
  mjData* d = mj_makeData(m);
  Arm arm = Arm::find(m, "", 0);
  ~OneArm() { mj_deleteData(d), mj_deleteModel(m); }
};

}  // namespace

TEST(Arm, HomePointsTheGripperDown) {
  OneArm a;
  auto q = arm_home();
  a.arm.set_joints(a.m, a.d, q.data(), 1.0);
  mj_forward(a.m, a.d);
  const mjtNum* R = a.d->site_xmat + 9 * a.arm.site;
  EXPECT_NEAR(R[6], -1.0, 0.01);  // site x axis (column 0) = world -z
  EXPECT_NEAR(a.d->site_xpos[3 * a.arm.site + 2], 0.2, 0.01);
}

TEST(Arm, IkReachesPosesAcrossTheWorkspace) {
  OneArm a;
  auto q = arm_home();
  a.arm.set_joints(a.m, a.d, q.data(), 1.0);
  mj_forward(a.m, a.d);
  ArmDriver driver(a.m, a.d, a.arm);
  const GripPose goals[] = {{{0.3, 0.0, 0.03}, 0.0}, {{0.25, 0.15, 0.1}, 0.6}, {{0.35, -0.12, 0.05}, -0.7},
                            {{0.2, 0.0, 0.25}, 0.3}};
  for (const auto& goal : goals) {
    for (int t = 0; t < 100 && !driver.move_toward(goal, 0.3, 0.1); ++t) {
    }
    float action[7];
    driver.action(action);
    double q_cmd[6];
    for (int j = 0; j < 6; ++j) q_cmd[j] = action[j];
    auto p = driver.site_pos(q_cmd);
    // Within 1 mm: the IK iterates to convergence on an exactly reachable pose.
    for (int i = 0; i < 3; ++i) EXPECT_NEAR(p[i], goal.pos[i], 1e-3) << "axis " << i;
  }
}

TEST(Arm, GravityCompensationHoldsThePose) {
  OneArm a;
  auto q = arm_home();
  q[1] += 0.4, q[2] += 0.3;  // reach forward: the largest gravity torque on the shoulder
  a.arm.set_joints(a.m, a.d, q.data(), 1.0);
  mj_forward(a.m, a.d);
  for (int s = 0; s < static_cast<int>(2 / kArmTimestep); ++s) {  // 2 s
    a.arm.compensate_gravity(a.d);
    mj_step(a.m, a.d);
  }
  // Position gains alone (kp ~ 100 N m/rad) would let ~3 N m of gravity sag the shoulder by ~0.03 rad.
  for (int j = 0; j < 6; ++j) EXPECT_NEAR(a.d->qpos[a.arm.qpos[j]], q[j], 5e-3) << "joint " << j;
}

TEST(Arm, GripperClosesOnCommand) {
  OneArm a;
  auto q = arm_home();
  a.arm.set_joints(a.m, a.d, q.data(), 1.0);
  std::vector<float> act(q.begin(), q.end());
  act.push_back(0.0f);
  a.arm.apply(a.m, a.d, act.data());
  for (int s = 0; s < static_cast<int>(1 / kArmTimestep); ++s) mj_step(a.m, a.d);  // 1 s
  EXPECT_LT(a.arm.gripper_opening(a.d), 0.05);
  act[6] = 1.0f;
  a.arm.apply(a.m, a.d, act.data());
  for (int s = 0; s < static_cast<int>(1 / kArmTimestep); ++s) mj_step(a.m, a.d);  // 1 s
  EXPECT_GT(a.arm.gripper_opening(a.d), 0.95);
}
