#include "nfp/normalizer.hpp"

#include <cmath>

#include "nfp/error.hpp"
#include "nfp/json_io.hpp"

namespace nfp {

// Below this spread a dimension is treated as constant (only centred): dividing by ~0 would turn float noise
// into huge values.
static constexpr double kMinSpread = 1e-6;

std::string norm_mode_name(NormMode mode) {
  switch (mode) {
    case NormMode::min_max: return "min_max";
    case NormMode::mean_std: return "mean_std";
    case NormMode::identity: return "identity";
  }
  return "identity";
}

NormMode parse_norm_mode(const std::string& name) {
  if (name == "min_max") return NormMode::min_max;
  if (name == "mean_std") return NormMode::mean_std;
  if (name == "identity") return NormMode::identity;
  throw Error("unknown normalization mode " + quoted_value(name) + "; use one of: min_max, mean_std, identity");
}

void KeyStats::finalize() {
  const size_t d = min.size();
  center.assign(d, 0.0f);
  inv_scale.assign(d, 1.0f);
  for (size_t j = 0; j < d; ++j) {
    if (mode == NormMode::min_max) {
      const double half = 0.5 * (max[j] - min[j]);
      center[j] = float(0.5 * (max[j] + min[j]));
      inv_scale[j] = half > kMinSpread ? float(1.0 / half) : 1.0f;
    } else if (mode == NormMode::mean_std) {
      center[j] = float(mean[j]);
      inv_scale[j] = std[j] > kMinSpread ? float(1.0 / std[j]) : 1.0f;
    }
  }
}

KeyStats compute_key_stats(const std::vector<const std::vector<float>*>& arrays, int64_t d, NormMode mode) {
  KeyStats s;
  s.mode = mode;
  s.min.assign(d, INFINITY);
  s.max.assign(d, -INFINITY);
  std::vector<double> sum(d, 0.0), sum2(d, 0.0);
  for (const auto* a : arrays) {
    const int64_t rows = static_cast<int64_t>(a->size()) / std::max<int64_t>(d, 1);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t j = 0; j < d; ++j) {
        const double v = (*a)[r * d + j];
        s.min[j] = std::min(s.min[j], v);
        s.max[j] = std::max(s.max[j], v);
        sum[j] += v;
        sum2[j] += v * v;
      }
    s.count += rows;
  }
  require(s.count > 0, "cannot compute normalization statistics over zero frames");
  s.mean.resize(d);
  s.std.resize(d);
  for (int64_t j = 0; j < d; ++j) {
    s.mean[j] = sum[j] / s.count;
    s.std[j] = std::sqrt(std::max(0.0, sum2[j] / s.count - s.mean[j] * s.mean[j]));
  }
  s.finalize();
  return s;
}

const KeyStats& Normalizer::at(const std::string& key) const {
  auto it = keys.find(key);
  if (it != keys.end()) return it->second;
  std::string names;
  for (const auto& [k, v] : keys) names += (names.empty() ? "" : ", ") + k;
  throw Error("normalization statistics have no key '" + key + "' (known: " + names +
              "); stats.json does not match this dataset or policy");
}

static torch::Tensor affine(const KeyStats& s, const torch::Tensor& x, const std::string& key, bool forward) {
  require(x.dim() >= 1 && x.size(-1) == s.dim(), "normalizer key '" + key + "' expects last dimension " +
                                                     std::to_string(s.dim()) + ", got tensor " +
                                                     c10::str(x.sizes()));
  if (s.mode == NormMode::identity) return x;
  const auto opts = torch::TensorOptions().dtype(torch::kFloat32);
  const torch::Tensor c = torch::tensor(s.center, opts).to(x.device()).to(x.scalar_type());
  const torch::Tensor k = torch::tensor(s.inv_scale, opts).to(x.device()).to(x.scalar_type());
  return forward ? (x - c) * k : x / k + c;
}

torch::Tensor Normalizer::normalize(const std::string& key, const torch::Tensor& x) const {
  return affine(at(key), x, key, true);
}
torch::Tensor Normalizer::unnormalize(const std::string& key, const torch::Tensor& x) const {
  return affine(at(key), x, key, false);
}

void Normalizer::normalize_rows(const std::string& key, float* data, int64_t rows) const {
  const KeyStats& s = at(key);
  if (s.mode == NormMode::identity) return;
  const int64_t d = s.dim();
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < d; ++j) data[r * d + j] = (data[r * d + j] - s.center[j]) * s.inv_scale[j];
}

nlohmann::json Normalizer::to_json() const {
  nlohmann::json j = {{"format", "nfp-stats"}, {"version", 1}, {"keys", nlohmann::json::object()}};
  for (const auto& [k, s] : keys)
    j["keys"][k] = {{"mode", norm_mode_name(s.mode)}, {"min", s.min}, {"max", s.max},
                    {"mean", s.mean},                 {"std", s.std}, {"count", s.count}};
  return j;
}

Normalizer Normalizer::from_json(const nlohmann::json& j, const std::string& source) {
  require(j.is_object() && j.contains("keys") && j["keys"].is_object(),
          source + ": not an nfp stats file (no object 'keys')");
  Normalizer n;
  for (const auto& [k, v] : j["keys"].items()) {
    const std::string where = source + ": key '" + k + "'";
    KeyStats s;
    s.mode = parse_norm_mode(json_get<std::string>(v, "mode", "identity", where));
    s.min = json_get<std::vector<double>>(v, "min", {}, where);
    s.max = json_get<std::vector<double>>(v, "max", {}, where);
    s.mean = json_get<std::vector<double>>(v, "mean", {}, where);
    s.std = json_get<std::vector<double>>(v, "std", {}, where);
    s.count = json_get<int64_t>(v, "count", 0, where);
    require(!s.min.empty() && s.max.size() == s.min.size() && s.mean.size() == s.min.size() &&
                s.std.size() == s.min.size(),
            where + ": min, max, mean and std must be non-empty and of equal length");
    s.finalize();
    n.keys[k] = std::move(s);
  }
  return n;
}

void Normalizer::save(const std::filesystem::path& path) const { write_json_file(path, to_json()); }

Normalizer Normalizer::load(const std::filesystem::path& path) {
  return from_json(read_json_file(path), quoted(path.string()));
}

Normalizer compute_normalizer(const EpisodeStore& train, const NormOptions& options) {
  auto mode_for = [&](const std::string& key, NormMode fallback) {
    auto it = options.per_key.find(key);
    return it == options.per_key.end() ? fallback : it->second;
  };
  Normalizer n;
  std::vector<const std::vector<float>*> arrays;
  for (const auto& e : train.episodes) arrays.push_back(&e.actions.data);
  n.keys[Normalizer::kActionKey] =
      compute_key_stats(arrays, train.action_dim, mode_for(Normalizer::kActionKey, options.actions));
  for (const auto& key : train.obs_keys) {
    arrays.clear();
    int64_t d = 0;
    for (const auto& e : train.episodes) {
      const Array<float>& a = e.obs.at(key);
      arrays.push_back(&a.data);
      d = a.row_size();
    }
    n.keys[key] = compute_key_stats(arrays, d, mode_for(key, options.low_dim));
  }
  return n;
}

}  // namespace nfp
