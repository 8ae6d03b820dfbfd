// The one narrow interface every flow transform implements (zuko / nflows style).
//
// Direction convention (DESIGN.md): forward maps data -> latent (the density direction) and returns
// log|det dy/dx|; inverse maps latent -> data (sampling) and returns log|det dx/dy| = -(forward logdet).
#pragma once
#include <torch/torch.h>

namespace nfp {

struct TransformResult {
  torch::Tensor y;       // (B x D)
  torch::Tensor logdet;  // (B)
};

class TransformImpl : public torch::nn::Module {
 public:
  // x (B x D) data side; ctx (B x C), (B x N x C) or undefined.
  virtual TransformResult forward(const torch::Tensor& x, const torch::Tensor& ctx) = 0;
  // y (B x D) latent side.
  virtual TransformResult inverse(const torch::Tensor& y, const torch::Tensor& ctx) = 0;
};

using Transform = std::shared_ptr<TransformImpl>;

}  // namespace nfp
