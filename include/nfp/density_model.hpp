// A (conditional) density over table columns: per-column standardization + a normalizing flow.
// log p(x | c) = log p_flow((x - mean) / std | (c - c_mean) / c_std) - sum log std, so reported NLLs are in
// nats of the original units. Saved as a directory: config.json (type "density") + model.safetensors.
#pragma once
#include <filesystem>
#include <functional>
#include <optional>

#include "nfp/csv.hpp"
#include "nfp/flow.hpp"

namespace nfp {

struct DensityFitOptions {
  int64_t steps = 5000;
  int64_t batch = 512;
  double lr = 1e-3;         // AdamW, cosine decay to lr/100 after a 2% warm-up
  double weight_decay = 0.0;
  double clip_grad = 5.0;   // max global gradient norm
  uint64_t seed = 0;
  double noise = 0.0;       // std of Gaussian noise added to each standardized training batch (0: none)
};

struct DensityModelConfig {
  FlowConfig flow;
  std::vector<std::string> columns, context_columns;
  std::vector<double> mean, std, context_mean, context_std;
};

void to_json(json& j, const DensityModelConfig& c);
void from_json(const json& j, DensityModelConfig& c);

class DensityModel {
 public:
  explicit DensityModel(const DensityModelConfig& config);

  // Fits a new model on `data` (columns and context_columns of `train`). `on_step(step, loss)` reports progress.
  static DensityModel fit(const Table& train, const std::vector<std::string>& columns,
                          const std::vector<std::string>& context_columns, FlowConfig flow,
                          const DensityFitOptions& options,
                          const std::function<void(int64_t, double, double)>& on_step = {});

  // Per-row log p(x | c) in nats, from a table holding the model's columns (and context columns).
  std::vector<double> log_prob(const Table& data, const std::string& source);
  // The same on tensors in the original units: x (B x D), context (B x C) or undefined -> (B) float64; rows too far
  // out for float32 come back non-finite (the Table version refuses them).
  torch::Tensor log_prob(const torch::Tensor& x, const torch::Tensor& context = {});
  // n samples for one context row (values in context_columns order; empty if unconditional): (n x D) row-major.
  Table sample(int64_t n, const std::vector<double>& context, double sigma, uint64_t seed);

  void save(const std::filesystem::path& dir) const;  // into an existing directory
  static DensityModel load(const std::filesystem::path& dir);

  const DensityModelConfig& config() const { return config_; }
  Flow& flow() { return flow_; }

 private:
  torch::Tensor standardize(const Table& t, const std::vector<std::string>& cols, const std::vector<double>& mean,
                            const std::vector<double>& std, const std::string& source) const;
  static torch::Tensor standardize(const torch::Tensor& x, const std::vector<double>& mean, const std::vector<double>& std);
  DensityModelConfig config_;
  Flow flow_{nullptr};
};

}  // namespace nfp
