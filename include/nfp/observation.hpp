// One control step's observation, as a simulated task or a robot gives it, and the key rules every layer shares
// (sim writes these, datasets store them under the same keys, the policy reads them). Torch-free on purpose:
// the simulator and a robot's driver fill it without linking libtorch.
//   nfp::Observation obs;
//   obs.lowdim["state"] = {...};                        // low-dim keys, data units
//   obs.images[nfp::camera_key("top")] = image;         // "top_image": (H x W x 3) uint8 RGB
//   obs.instruction = "push the block to the left goal";
#pragma once
#include <cmath>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace nfp {

// A camera image, row 0 at the top.
struct Image {
  int height = 0, width = 0;
  std::vector<uint8_t> pixels;  // (height x width x 3) RGB
};

struct Observation {
  std::map<std::string, std::vector<float>> lowdim;  // "state", "object_state", ... (data units)
  std::map<std::string, Image> images;               // camera_key(camera) -> image
  std::string instruction;                           // natural-language goal ("" when the task has none)
};

// Whether every low-dim value is finite (a dropped sensor frame holds NaN / Inf): what a runner that holds its last
// action on an unusable observation checks first (RunnerOptions::hold_on_nonfinite, RuntimeRunnerOptions alike).
inline bool finite_lowdim(const Observation& obs) {
  for (const auto& [key, v] : obs.lowdim)
    for (float x : v)
      if (!std::isfinite(x)) return false;
  return true;
}

// The normalizer's and the datasets' key of the action.
inline constexpr const char* kActionKey = "action";

// Camera images are stored and observed under "<camera>_image" (robomimic's convention, which `nfp collect`
// follows): camera_key("top") == "top_image".
inline constexpr const char* kImageSuffix = "_image";
inline std::string camera_key(const std::string& camera) { return camera + kImageSuffix; }
// The camera of an image key ("top_image" -> "top"); nullopt for a key that does not follow the rule.
inline std::optional<std::string> camera_name(const std::string& key) {
  const std::string suffix = kImageSuffix;
  if (key.size() <= suffix.size() || key.compare(key.size() - suffix.size(), suffix.size(), suffix) != 0)
    return std::nullopt;
  return key.substr(0, key.size() - suffix.size());
}

}  // namespace nfp
