#include "nfp/affine_coupling.hpp"

#include "flow/coupling_split.hpp"

namespace nfp {

AffineCouplingImpl::AffineCouplingImpl(const CouplingOptions& o, const ConditionerConfig& c, bool separate_nets)
    : options_(o), conditioner_(c), split_(std::make_shared<CouplingSplit>(o.dim, o.cond_dim, o.mask)) {
  ConditionerShape s{split_->cond_dim(), split_->trans_dim(), 2, o.context_dim, o.token_dim, 2};
  if (separate_nets) {
    s.params_per_dim = 1;
    s.groups = 1;
    scale_net_ = register_module("scale_net", make_conditioner(c, s));
    shift_net_ = register_module("shift_net", make_conditioner(c, s));
  } else {
    scale_net_ = register_module("net", make_conditioner(c, s));
  }
}

std::pair<torch::Tensor, torch::Tensor> AffineCouplingImpl::scale_shift(const torch::Tensor& x_cond,
                                                                        const torch::Tensor& ctx) {
  if (shift_net_) {
    return {torch::tanh(scale_net_->forward(x_cond, ctx).squeeze(-1)), shift_net_->forward(x_cond, ctx).squeeze(-1)};
  }
  auto p = scale_net_->forward(x_cond, ctx);  // (B x Dt x 2)
  return {torch::tanh(p.select(2, 0)), p.select(2, 1)};
}

TransformResult AffineCouplingImpl::forward(const torch::Tensor& x, const torch::Tensor& ctx) {
  auto [x_cond, x_trans] = split_->split(x);
  auto [s, t] = scale_shift(x_cond, ctx);
  return {split_->merge(x_cond, x_trans * torch::exp(s) + t), s.sum(1)};
}

TransformResult AffineCouplingImpl::inverse(const torch::Tensor& y, const torch::Tensor& ctx) {
  auto [y_cond, y_trans] = split_->split(y);
  auto [s, t] = scale_shift(y_cond, ctx);
  return {split_->merge(y_cond, (y_trans - t) * torch::exp(-s)), -s.sum(1)};
}

}  // namespace nfp
