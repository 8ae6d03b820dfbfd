// The 6-DoF arm with a parallel-jaw gripper, built from primitive geoms, and what tasks and experts do
// with it: MJCF generation, index lookup, gravity compensation, differential IK, a scripted Cartesian driver.
//
// Arm joints: waist (z), shoulder (y), elbow (y), forearm_roll (x), wrist_pitch (y), wrist_roll (x).
// At zero the upper arm points up and the forearm forward (+x of the base). The gripper's fingers slide
// along the hand's y axis; the "grip" site sits between the fingertips. World: table top at z = 0.
#pragma once
#include <mujoco/mujoco.h>

#include <array>
#include <random>
#include <string>
#include <vector>

namespace nfp::sim {

constexpr double kFingerMax = 0.045;  // finger travel (m): jaw gap = 2 x finger position
// Physics of the arm tasks: 10 substeps of 10 ms per 10 Hz control step. Twice the cost of 20 x 5 ms was
// measured for no gain in expert success (100 seeds per task); MuJoCo's default safety clamp then softens
// the 5-10 ms solrefs of contacts and the finger coupling to 2 x timestep = 20 ms.
constexpr double kArmTimestep = 0.01;
constexpr int kArmSubsteps = 10;

// Scene pieces shared by the arm tasks.
std::string scene_header_xml(const std::string& model_name, double timestep);  // <mujoco>, options, visual, assets
std::string table_xml(double half_x, double half_y);                             // table + lights + top camera
// One arm named `prefix` ("" for single-arm tasks, "left_"/"right_"), base at (x, y) turned by `yaw`.
std::string arm_body_xml(const std::string& prefix, double x, double y, double yaw);
std::string arm_actuator_xml(const std::string& prefix);
std::string arm_equality_xml(const std::string& prefix);
std::string arm_contact_xml(const std::string& prefix);

struct ArmPlacement {
  std::string prefix;  // "" for single-arm tasks, "left_" / "right_"
  double x = 0, y = 0, yaw = 0;
};
// A whole arm-task scene: header, table (half sizes), the arms, the task's own bodies (`objects_xml`, inside
// <worldbody>), then every arm's actuators, finger couplings and contact exclusions.
std::string arm_scene_xml(const std::string& model_name, double table_half_x, double table_half_y,
                          const std::vector<ArmPlacement>& arms, const std::string& objects_xml);

// Indices of one arm in a compiled model.
struct Arm {
  std::array<int, 6> qpos{}, dof{}, act{};  // the 6 arm joints
  int grip_act = -1;                        // gripper actuator (ctrl = finger position target)
  std::array<int, 2> finger_qpos{};
  int site = -1;                            // "grip" site between the fingertips
  int hand_body = -1;
  int base_body = -1;
  double base_yaw = 0;
  static Arm find(const mjModel* m, const std::string& prefix, double base_yaw);

  // The arm's part of `state`: 6 joint positions + gripper opening in [0, 1] (1 = open): (7)
  void state(const mjData* d, float* out) const;
  // Action (7): 6 absolute joint targets + gripper command in [0, 1] (1 = open).
  void apply(const mjModel* m, mjData* d, const float* action) const;
  void compensate_gravity(mjData* d) const;  // qfrc_applied = qfrc_bias on the arm's dofs
  // Sets joints (6) and gripper opening, holding them (ctrl = qpos).
  void set_joints(const mjModel* m, mjData* d, const double* q, double grip) const;
  double gripper_opening(const mjData* d) const;  // (0 closed .. 1 open)
};

// Home joints: gripper 0.2 m above the table, pointing down.
std::array<double, 6> arm_home();
// Action bounds and names for one arm's 7 values.
void arm_action_spec(const std::string& prefix, std::vector<float>& low, std::vector<float>& high,
                     std::vector<std::string>& names);

// A pose the gripper should take: site position (3) and yaw about world z, pointing straight down.
struct GripPose {
  std::array<double, 3> pos{};
  double yaw = 0;
};

// Drives one arm along Cartesian targets with differential IK, as a scripted expert does. The IK runs on
// the commanded joints (not the measured ones) so that the commands form a smooth path.
class ArmDriver {
 public:
  ArmDriver(const mjModel* m, const mjData* d, const Arm& arm);
  ~ArmDriver();
  ArmDriver(const ArmDriver&) = delete;
  ArmDriver& operator=(const ArmDriver&) = delete;

  // Moves the commanded pose toward `goal` by at most `speed` m/s (and 2 rad/s of yaw) for one control
  // period `dt`; returns true when the commanded pose is at the goal.
  bool move_toward(const GripPose& goal, double speed, double dt);
  const GripPose& commanded() const { return target_; }
  double grip = 1;  // gripper command (1 = open)
  // Adds `offset` (3) to the pose given to IK this step only (jitter).
  std::array<double, 3> jitter{};
  // The arm's action: IK for the commanded pose (+ jitter) from the last commanded joints. (7)
  void action(float* out);
  // Where the site is for joints q (6).
  std::array<double, 3> site_pos(const double* q);

 private:
  const mjModel* m_;
  Arm arm_;
  mjData* scratch_;
  GripPose target_;
  std::array<double, 6> q_cmd_{};
};

// Smooth human-like jitter: an Ornstein-Uhlenbeck offset (3) plus random short pauses.
class Jitter {
 public:
  Jitter(uint64_t seed, bool enabled, double sigma = 0.004);
  std::array<double, 3> next();  // the offset for this step
  bool pause();                  // true while a pause lasts (the expert holds its command)
 private:
  std::mt19937_64 rng_;
  bool enabled_;
  double sigma_;
  std::array<double, 3> x_{};
  int pause_left_ = 0;
};

}  // namespace nfp::sim
