// Activation normalization (Glow): z = (x + bias) * exp(log_scale) per feature; logdet = sum log_scale.
// Data-dependent initialisation: the first forward pass in training mode sets bias = -mean and
// log_scale = -log(std) of that batch, so the layer's output starts standardized.
#pragma once
#include "nfp/transform.hpp"

namespace nfp {

class ActNormImpl : public TransformImpl {
 public:
  explicit ActNormImpl(int64_t dim);
  TransformResult forward(const torch::Tensor& x, const torch::Tensor& ctx) override;
  TransformResult inverse(const torch::Tensor& y, const torch::Tensor& ctx) override;
  bool initialized() const { return initialized_.item<int64_t>() != 0; }

 private:
  torch::Tensor bias_, log_scale_, initialized_;
};

}  // namespace nfp
