// MLP conditioner (NinA-MLP): cat(x_cond, context) -> [Linear -> LayerNorm -> GELU] x depth -> Linear.
#include "nfp/conditioner.hpp"
#include "nfp/error.hpp"
#include "nfp/mlp_blocks.hpp"
#include "flow/conditioners.hpp"

namespace nfp {

MlpConditionerImpl::MlpConditionerImpl(const ConditionerConfig& c, const ConditionerShape& s) : shape_(s) {
  require(c.depth >= 1 && c.hidden >= 1, "mlp conditioner: depth and hidden must be >= 1");
  const int64_t in = append_mlp_blocks(body_, s.cond_dim + s.context_dim, c.hidden, c.depth, MlpActivation::gelu);
  out_ = torch::nn::Linear(in, s.trans_dim * s.params_per_dim);
  if (c.zero_init) {
    torch::NoGradGuard g;
    out_->weight.zero_();
    out_->bias.zero_();
  }
  register_module("body", body_);
  register_module("out", out_);
}

torch::Tensor MlpConditionerImpl::forward(const torch::Tensor& x_cond, const torch::Tensor& ctx) {
  torch::Tensor h = x_cond;
  if (shape_.context_dim > 0) h = torch::cat({x_cond, pool_context(ctx)}, 1);
  return out_->forward(body_->forward(h)).view({x_cond.size(0), shape_.trans_dim, shape_.params_per_dim});
}

}  // namespace nfp
