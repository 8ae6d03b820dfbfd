// Which observations a new run trains on, resolved against its dataset (PolicyConfig::obs):
//   state        low-dim keys: --obs-keys if given; else the dataset ecosystem's own defaults when it has them
//                (robomimic: robot0_eef_pos, robot0_eef_quat, robot0_gripper_qpos, + object without images;
//                LIBERO: ee_states, gripper_states, joint_states; ACT: qpos); else with images only the robot's
//                own "state" (so that object positions must come from the cameras); otherwise every low-dim key
//   images       cameras by name ("top" or "top_image"); all of the dataset's when none are named; image_hw is what
//                the encoder sees: the crop (image_preprocess.crop, which must fit the images) or the images' size
//                (after image_preprocess.resize, which the store has applied; the cameras' stored sizes are recorded)
//   instruction  vocabulary from the training episodes' instructions
#pragma once
#include <string>
#include <vector>

#include "nfp/episode_store.hpp"
#include "nfp/policy.hpp"

namespace nfp {

// Fills obs_keys, cameras, image_hw, image_preprocess (source, crop_from) and the instruction vocabulary of `pc` from `train`; Error on a
// modality the dataset cannot supply.
void resolve_observations(PolicyConfig& pc, const EpisodeStore& train);

// Drops every camera but `cameras` from `store` (in memory), so batches build only the images the policy uses.
void keep_cameras(EpisodeStore& store, const std::vector<std::string>& cameras);

}  // namespace nfp
