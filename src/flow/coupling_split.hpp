// Which features a coupling layer leaves untouched (and feeds to its conditioner) and which it transforms.
#pragma once
#include <torch/torch.h>

#include <vector>

namespace nfp {

class CouplingSplit {
 public:
  // Default (mask empty): the first `cond_dim` features are untouched, the rest transformed.
  // With a mask (size dim, true = transformed) the features are gathered by index.
  CouplingSplit(int64_t dim, int64_t cond_dim, const std::vector<bool>& mask = {});

  // x (B x D) -> {x_cond (B x Dc), x_trans (B x Dt)}
  std::pair<torch::Tensor, torch::Tensor> split(const torch::Tensor& x) const;
  // inverse of split
  torch::Tensor merge(const torch::Tensor& x_cond, const torch::Tensor& x_trans) const;

  int64_t cond_dim() const { return cond_dim_; }
  int64_t trans_dim() const { return dim_ - cond_dim_; }

 private:
  int64_t dim_, cond_dim_;
  torch::Tensor cond_idx_, trans_idx_, merge_idx_;  // undefined for the contiguous default
};

}  // namespace nfp
