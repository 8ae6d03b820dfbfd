// Invertible linear layer in PLU form (Glow; NinA's optional InvertiblePLU): z = x W^T with
// W = P L (U + diag s), P a fixed permutation, L unit lower-triangular, U strictly upper-triangular and
// s = sign * exp(log_s) (sign fixed at initialisation, so W can never become singular); logdet = sum log_s.
// Initialised at a random orthogonal W. The inverse uses two triangular solves; W^-1 is cached while the
// module is in eval mode (train()/eval() clear the cache, so weights loaded before eval() are picked up).
#pragma once
#include "nfp/transform.hpp"

namespace nfp {

class PLULinearImpl : public TransformImpl {
 public:
  // `generator` draws the orthogonal initialisation (a seeded CPU generator keeps models reproducible).
  PLULinearImpl(int64_t dim, at::Generator generator);
  TransformResult forward(const torch::Tensor& x, const torch::Tensor& ctx) override;
  TransformResult inverse(const torch::Tensor& y, const torch::Tensor& ctx) override;
  void train(bool on = true) override;

  torch::Tensor weight() const;          // W (D x D)
  torch::Tensor inverse_weight() const;  // W^-1 by triangular solves (D x D)

 private:
  torch::Tensor lower_factor() const;  // L (D x D), unit diagonal
  torch::Tensor upper_factor() const;  // U + diag(s) (D x D)
  int64_t dim_;
  torch::Tensor perm_, sign_, lower_mask_, upper_mask_;  // buffers
  torch::Tensor lower_, upper_, log_s_;                   // parameters
  torch::Tensor cached_inverse_;
};

}  // namespace nfp
