// Observation modalities of a run resolved against its dataset (observation_setup.hpp).
#include "train/observation_setup.hpp"

#include <algorithm>

#include "nfp/error.hpp"
#include "nfp/observation.hpp"

namespace nfp {
namespace {

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

std::string joined(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return out.empty() ? "(none)" : out;
}

// Each ecosystem's own default proprioception, used when a dataset has all of its keys (robomimic's low-dim and
// image configs; LIBERO's end-effector, gripper and joint states; ACT's joint positions, not velocities).
// `objects`: added without images (robomimic's privileged object state; with cameras, objects are seen).
struct LayoutKeys {
  DatasetLayout layout;
  std::vector<std::string> robot, objects;
};

const std::vector<LayoutKeys>& layout_keys() {
  static const std::vector<LayoutKeys> table = {
      {DatasetLayout::robomimic, {"robot0_eef_pos", "robot0_eef_quat", "robot0_gripper_qpos"}, {"object"}},
      {DatasetLayout::libero, {"ee_states", "gripper_states", "joint_states"}, {}},
      {DatasetLayout::act, {"qpos"}, {}},
  };
  return table;
}

// The default low-dim keys for `train`, or empty when its layout's keys are not all there.
std::vector<std::string> layout_default_keys(const EpisodeStore& train, bool images) {
  for (const auto& e : layout_keys()) {
    if (e.layout != train.layout) continue;
    for (const auto& k : e.robot)
      if (!contains(train.obs_keys, k)) return {};
    std::vector<std::string> keys = e.robot;
    if (!images)
      for (const auto& k : e.objects)
        if (contains(train.obs_keys, k)) keys.push_back(k);
    return keys;
  }
  return {};
}

// Camera `c`'s size as stored in the files (a store built by hand may record only camera_shapes).
ImageSize source_size(const EpisodeStore& s, size_t c) {
  const auto& shape = c < s.camera_source_shapes.size() ? s.camera_source_shapes[c] : s.camera_shapes.at(c);
  return {shape.at(0), shape.at(1)};
}

}  // namespace

void resolve_observations(PolicyConfig& pc, const EpisodeStore& train) {
  for (const auto& m : pc.obs)
    require(m == "state" || m == "images" || m == "instruction",
            "--obs: unknown modality " + quoted_value(m) + "; known: state, images, instruction");
  require(!pc.obs.empty(), "--obs: name at least one of state, images");
  const bool state = has_modality(pc, "state"), images = has_modality(pc, "images");
  require(state || images, "--obs: needs state or images (instruction alone does not say where things are)");

  if (!state) {
    pc.obs_keys.clear();
  } else if (!pc.obs_keys.empty()) {
    for (const auto& k : pc.obs_keys)
      require(contains(train.obs_keys, k), "--obs-keys: the dataset has no low-dim key '" + k + "'; it has " +
                                               joined(train.obs_keys));
  } else if (auto keys = layout_default_keys(train, images); !keys.empty()) {
    pc.obs_keys = keys;
  } else if (images && contains(train.obs_keys, "state")) {
    pc.obs_keys = {"state"};
  } else {
    pc.obs_keys = train.obs_keys;
  }
  require(!state || !pc.obs_keys.empty(), "--obs state: the dataset has no low-dimensional observation keys");

  if (images) {
    require(!train.cameras.empty(), "--obs images: the dataset has no camera images; collect with `nfp collect "
                                    "--images` (or --cameras top,...)");
    std::vector<std::string> chosen;
    for (const auto& name : pc.cameras) {
      const std::string key = contains(train.cameras, name) ? name : camera_key(name);
      require(contains(train.cameras, key),
              "--cameras: the dataset has no camera '" + name + "'; it has " + joined(train.cameras));
      chosen.push_back(key);
    }
    if (chosen.empty()) chosen = train.cameras;
    pc.cameras = chosen;
    std::vector<int64_t> hw;
    for (size_t c = 0; c < train.cameras.size(); ++c) {
      if (!contains(chosen, train.cameras[c])) continue;
      const auto& s = train.camera_shapes[c];  // (H x W x C)
      require(s.size() == 3 && s[2] == 3, "--obs images: camera '" + train.cameras[c] + "' is not RGB (H x W x 3)");
      require(hw.empty() || (hw[0] == s[0] && hw[1] == s[1]),
              "--obs images: the chosen cameras differ in size; pick cameras of one size with --cameras");
      hw = {s[0], s[1]};
    }
    ImagePreprocess& pre = pc.image_preprocess;
    pre.source.clear();
    if (!pre.resize.empty())
      for (size_t c = 0; c < train.cameras.size(); ++c)
        if (contains(chosen, train.cameras[c]))
          pre.source.push_back(source_size(train, c));
    pre.crop_from = {};
    if (!pre.crop.empty()) {
      const ImageSize images{hw[0], hw[1]};
      require(pre.crop.height <= images.height && pre.crop.width <= images.width,
              "--crop " + to_string(pre.crop) + " is larger than the " + to_string(images) + " images" +
                  (pre.resize.empty() ? " of the dataset" : " of --image-size") + "; pick a crop that fits them");
      pre.crop_from = images;
      hw = {pre.crop.height, pre.crop.width};  // the encoder sees the crop
    }
    pc.image_hw = hw;
  } else {
    require(pc.image_preprocess.resize.empty() && pc.image_preprocess.crop.empty(),
            "--image-size / --crop: this policy reads no images; add images to --obs (or name --cameras)");
    pc.cameras.clear();
    pc.image_hw.clear();
  }

  if (has_modality(pc, "instruction")) {
    std::vector<std::string> texts;
    for (const auto& e : train.episodes)
      if (!e.instruction.empty()) texts.push_back(e.instruction);
    require(!texts.empty(), "--obs instruction: the dataset's episodes carry no instructions");
    pc.instruction_encoder.vocabulary = build_vocabulary(texts).words;
  }
}

void keep_cameras(EpisodeStore& store, const std::vector<std::string>& cameras) {
  std::vector<std::string> names;
  std::vector<std::vector<int64_t>> shapes, source_shapes;
  for (size_t c = 0; c < store.cameras.size(); ++c) {
    if (!contains(cameras, store.cameras[c])) continue;
    names.push_back(store.cameras[c]);
    shapes.push_back(store.camera_shapes[c]);
    if (c < store.camera_source_shapes.size()) source_shapes.push_back(store.camera_source_shapes[c]);
  }
  for (auto& e : store.episodes)
    for (auto it = e.images.begin(); it != e.images.end();)
      it = contains(names, it->first) ? std::next(it) : e.images.erase(it);
  store.cameras = names;
  store.camera_shapes = shapes;
  store.camera_source_shapes = source_shapes;
}

}  // namespace nfp
