// --obs / --cameras / --obs-keys resolved against a dataset: defaults (images -> proprioception only), camera
// names with or without "_image", vocabulary from the episodes, and one clear error per impossible request.
#include <gtest/gtest.h>

#include "nfp/error.hpp"
#include "train/observation_setup.hpp"

namespace nfp {
namespace {

EpisodeStore store(bool with_images, bool with_instructions) {
  EpisodeStore s;
  s.obs_keys = {"object_state", "state"};
  s.action_dim = 2;
  if (with_images) {
    s.cameras = {"top_image", "wrist_image"};
    s.camera_shapes = {{84, 84, 3}, {84, 84, 3}};
  }
  for (int i = 0; i < 3; ++i) {
    Episode e;
    e.instruction = with_instructions ? (i == 0 ? "Lift the red block" : "put the blue block on the pad") : "";
    if (with_images) {
      e.images["top_image"].shape = {1, 84, 84, 3};
      e.images["wrist_image"].shape = {1, 84, 84, 3};
    }
    s.episodes.push_back(e);
  }
  return s;
}

std::string error_of(PolicyConfig pc, const EpisodeStore& s) {
  try {
    resolve_observations(pc, s);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(ObservationSetup, Defaults) {
  PolicyConfig pc;
  resolve_observations(pc, store(true, false));
  EXPECT_EQ(pc.obs_keys, (std::vector<std::string>{"object_state", "state"}));  // state only: every key
  EXPECT_TRUE(pc.cameras.empty());

  pc = PolicyConfig{};
  pc.obs = {"images", "state"};
  resolve_observations(pc, store(true, false));
  EXPECT_EQ(pc.obs_keys, (std::vector<std::string>{"state"})) << "with images the objects must be seen, not given";
  EXPECT_EQ(pc.cameras, (std::vector<std::string>{"top_image", "wrist_image"}));
  EXPECT_EQ(pc.image_hw, (std::vector<int64_t>{84, 84}));

  pc = PolicyConfig{};
  pc.obs = {"images"};
  pc.cameras = {"wrist"};
  resolve_observations(pc, store(true, false));
  EXPECT_TRUE(pc.obs_keys.empty());
  EXPECT_EQ(pc.cameras, (std::vector<std::string>{"wrist_image"}));

  pc = PolicyConfig{};
  pc.obs = {"state", "instruction"};
  resolve_observations(pc, store(false, true));
  const auto& v = pc.instruction_encoder.vocabulary;
  EXPECT_EQ(v.size(), 3u + 8u);  // blue block lift on pad put red the
  EXPECT_NE(std::find(v.begin(), v.end(), "lift"), v.end());
}

TEST(ObservationSetup, ClearErrors) {
  PolicyConfig pc;
  pc.obs = {"images", "state"};
  EXPECT_NE(error_of(pc, store(false, false)).find("no camera images"), std::string::npos);
  pc.cameras = {"side"};
  EXPECT_NE(error_of(pc, store(true, false)).find("no camera 'side'; it has top_image, wrist_image"), std::string::npos);
  pc = PolicyConfig{};
  pc.obs = {"state", "smell"};
  EXPECT_NE(error_of(pc, store(false, false)).find("unknown modality 'smell'"), std::string::npos);
  pc.obs = {"instruction"};
  EXPECT_NE(error_of(pc, store(false, true)).find("needs state or images"), std::string::npos);
  pc.obs = {"state", "instruction"};
  EXPECT_NE(error_of(pc, store(false, false)).find("carry no instructions"), std::string::npos);
  pc.obs = {"state"};
  pc.obs_keys = {"joint_pos"};
  EXPECT_NE(error_of(pc, store(false, false)).find("no low-dim key 'joint_pos'"), std::string::npos);
}

TEST(ObservationSetup, KeepCamerasDropsTheRest) {
  auto s = store(true, false);
  keep_cameras(s, {"wrist_image"});
  EXPECT_EQ(s.cameras, (std::vector<std::string>{"wrist_image"}));
  EXPECT_EQ(s.camera_shapes.size(), 1u);
  for (const auto& e : s.episodes) {
    EXPECT_EQ(e.images.count("top_image"), 0u);
    EXPECT_EQ(e.images.count("wrist_image"), 1u);
  }
}

// Files from other tools get their ecosystem's own default proprioception (all of its keys present), not every
// low-dim key; an nfp dataset (keys "state", "object_state") keeps the rules above.
TEST(ObservationSetup, EachLayoutGetsItsEcosystemsDefaultKeys) {
  EpisodeStore rm = store(true, false);
  rm.layout = DatasetLayout::robomimic;
  rm.obs_keys = {"object", "robot0_eef_pos", "robot0_eef_quat", "robot0_eef_vel_lin", "robot0_gripper_qpos",
                 "robot0_joint_pos"};
  PolicyConfig pc;
  resolve_observations(pc, rm);
  EXPECT_EQ(pc.obs_keys, (std::vector<std::string>{"robot0_eef_pos", "robot0_eef_quat", "robot0_gripper_qpos", "object"}));
  pc = PolicyConfig{};
  pc.obs = {"images", "state"};
  resolve_observations(pc, rm);  // with cameras: no privileged object state
  EXPECT_EQ(pc.obs_keys, (std::vector<std::string>{"robot0_eef_pos", "robot0_eef_quat", "robot0_gripper_qpos"}));
  pc = PolicyConfig{};
  pc.obs_keys = {"robot0_joint_pos"};  // --obs-keys still wins
  resolve_observations(pc, rm);
  EXPECT_EQ(pc.obs_keys, (std::vector<std::string>{"robot0_joint_pos"}));

  EpisodeStore libero = store(false, false);
  libero.layout = DatasetLayout::libero;
  libero.obs_keys = {"ee_ori", "ee_pos", "ee_states", "gripper_states", "joint_states"};
  pc = PolicyConfig{};
  resolve_observations(pc, libero);
  EXPECT_EQ(pc.obs_keys, (std::vector<std::string>{"ee_states", "gripper_states", "joint_states"}));

  EpisodeStore act = store(false, false);
  act.layout = DatasetLayout::act;
  act.obs_keys = {"qpos", "qvel"};
  pc = PolicyConfig{};
  resolve_observations(pc, act);
  EXPECT_EQ(pc.obs_keys, (std::vector<std::string>{"qpos"}));

  rm.obs_keys = {"object", "robot0_eef_pos"};  // not all of robomimic's keys: every key, as before
  pc = PolicyConfig{};
  resolve_observations(pc, rm);
  EXPECT_EQ(pc.obs_keys, rm.obs_keys);
}

}  // namespace nfp
