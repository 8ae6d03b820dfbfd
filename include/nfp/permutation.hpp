// Fixed permutation of the features (random or reversed), stored as a buffer so it is saved with the model.
// With token_dim = A it permutes whole time steps of A features (NinA-Transformer permutes over time).
#pragma once
#include "nfp/transform.hpp"

namespace nfp {

class PermutationImpl : public TransformImpl {
 public:
  // kind: "random" (drawn from `generator`) or "reverse". token_dim 0 or 1 = permute single features.
  PermutationImpl(int64_t dim, const std::string& kind, at::Generator generator, int64_t token_dim = 0);
  TransformResult forward(const torch::Tensor& x, const torch::Tensor& ctx) override;
  TransformResult inverse(const torch::Tensor& y, const torch::Tensor& ctx) override;
  const torch::Tensor& indices() const { return perm_; }

 private:
  torch::Tensor perm_, inverse_perm_;  // (D) int64
};

}  // namespace nfp
