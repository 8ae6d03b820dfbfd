// Per-dimension normalization of actions and low-dimensional observations, computed over the training
// split, saved as stats.json next to the checkpoint, applied by the loader and inverted by the policy.
//   min_max:  x -> 2 (x - min) / (max - min) - 1, in [-1, 1]   (default for actions, as LIBERO and NinA)
//   mean_std: x -> (x - mean) / std                            (default for low-dim observations)
// A dimension with (almost) no spread is only centred, so constant dimensions neither blow up nor vanish.
// Images are not in here: the loader maps uint8 to float in [0, 1].
#pragma once
#include <torch/torch.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "nfp/episode_store.hpp"
#include "nfp/observation.hpp"

namespace nfp {

enum class NormMode { min_max, mean_std, identity };
std::string norm_mode_name(NormMode mode);
NormMode parse_norm_mode(const std::string& name);  // Error listing the names

// Statistics of one key, (d) each, plus the affine map they define: normalized = (x - center) * inv_scale.
struct KeyStats {
  NormMode mode = NormMode::identity;
  std::vector<double> min, max, mean, std;
  int64_t count = 0;  // frames the statistics were computed over
  std::vector<float> center, inv_scale;  // derived by finalize()
  void finalize();
  int64_t dim() const { return static_cast<int64_t>(min.size()); }
};

// Computes statistics of rows of `data` ((rows x d) row-major) with the given mode.
KeyStats compute_key_stats(const std::vector<const std::vector<float>*>& arrays, int64_t d, NormMode mode);

class Normalizer {
 public:
  static constexpr const char* kActionKey = nfp::kActionKey;  // the key actions are stored under, whatever the file calls them

  std::map<std::string, KeyStats> keys;

  bool has(const std::string& key) const { return keys.count(key) > 0; }
  const KeyStats& at(const std::string& key) const;  // Error naming the key and the known keys

  // x (... x d) float: normalized / back to data units. Keys it does not know are an error.
  torch::Tensor normalize(const std::string& key, const torch::Tensor& x) const;
  torch::Tensor unnormalize(const std::string& key, const torch::Tensor& x) const;
  // In place on `rows` rows of d floats (the loader's hot path, no tensor overhead).
  void normalize_rows(const std::string& key, float* data, int64_t rows) const;

  nlohmann::json to_json() const;
  static Normalizer from_json(const nlohmann::json& j, const std::string& source);
  void save(const std::filesystem::path& path) const;           // stats.json, atomic
  static Normalizer load(const std::filesystem::path& path);
};

struct NormOptions {
  NormMode actions = NormMode::min_max;
  NormMode low_dim = NormMode::mean_std;
  std::map<std::string, NormMode> per_key;  // overrides, e.g. {"gripper_states", identity}
};

// Statistics over every frame of every episode of `train` (the training split): key "action" and each
// low-dim observation key.
Normalizer compute_normalizer(const EpisodeStore& train, const NormOptions& options = {});

}  // namespace nfp
