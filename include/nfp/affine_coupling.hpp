// Affine coupling with a tanh-bounded log-scale (NinA): y_cond = x_cond,
// s = tanh(raw_s(x_cond, c)) so exp(s) in (1/e, e); y_trans = x_trans * exp(s) + t(x_cond, c); logdet = sum s.
#pragma once
#include "nfp/conditioner.hpp"
#include "nfp/transform.hpp"

namespace nfp {

struct CouplingOptions {
  int64_t dim = 0;          // D
  int64_t cond_dim = 0;     // untouched features (the first cond_dim, or those where mask is false)
  int64_t context_dim = 0;  // C
  int64_t token_dim = 0;    // A, for the transformer conditioner
  std::vector<bool> mask;   // optional, true = transformed
};

class CouplingSplit;

class AffineCouplingImpl : public TransformImpl {
 public:
  // separate_nets: one conditioner for the scale and one for the shift (NinA-MLP); otherwise one conditioner
  // with two outputs per feature (NinA-Transformer: shared trunk, a head each).
  AffineCouplingImpl(const CouplingOptions& options, const ConditionerConfig& conditioner, bool separate_nets);
  TransformResult forward(const torch::Tensor& x, const torch::Tensor& ctx) override;
  TransformResult inverse(const torch::Tensor& y, const torch::Tensor& ctx) override;

  const CouplingOptions& options() const { return options_; }
  const ConditionerConfig& conditioner() const { return conditioner_; }
  bool separate_nets() const { return shift_net_ != nullptr; }

 private:
  // -> {s (bounded log-scale), t}, each (B x Dt)
  std::pair<torch::Tensor, torch::Tensor> scale_shift(const torch::Tensor& x_cond, const torch::Tensor& ctx);
  CouplingOptions options_;
  ConditionerConfig conditioner_;
  std::shared_ptr<CouplingSplit> split_;
  Conditioner scale_net_, shift_net_;  // shift_net_ null when one conditioner gives both
};

}  // namespace nfp
