#include "nfp/spline_coupling.hpp"

#include <cmath>

#include "flow/coupling_split.hpp"
#include "nfp/error.hpp"

namespace nfp {

SplineCouplingImpl::SplineCouplingImpl(const CouplingOptions& o, const ConditionerConfig& c, const SplineOptions& s)
    : options_(o), conditioner_(c), split_(std::make_shared<CouplingSplit>(o.dim, o.cond_dim, o.mask)), spline_(s) {
  require(s.bins >= 2, "spline coupling: bins must be >= 2");
  require(s.bound > 0, "spline coupling: bound must be > 0");
  require(s.min_bin_width * double(s.bins) < 1.0 && s.min_bin_height * double(s.bins) < 1.0,
          "spline coupling: min_bin_width x bins must be < 1");
  ConditionerShape shape{split_->cond_dim(), split_->trans_dim(), 3 * s.bins - 1, o.context_dim, o.token_dim, 1};
  net_ = register_module("net", make_conditioner(c, shape));
}

TransformResult SplineCouplingImpl::apply(const torch::Tensor& v, const torch::Tensor& ctx, bool inverse) {
  auto [v_cond, v_trans] = split_->split(v);
  auto p = net_->forward(v_cond, ctx);  // (B x Dt x 3K-1)
  const int64_t K = spline_.bins;
  auto r = rq_spline(v_trans, p.narrow(2, 0, K), p.narrow(2, K, K), p.narrow(2, 2 * K, K - 1), spline_, inverse);
  return {split_->merge(v_cond, r.y), r.logdet.sum(1)};
}

TransformResult SplineCouplingImpl::forward(const torch::Tensor& x, const torch::Tensor& ctx) {
  return apply(x, ctx, false);
}

TransformResult SplineCouplingImpl::inverse(const torch::Tensor& y, const torch::Tensor& ctx) {
  return apply(y, ctx, true);
}

}  // namespace nfp
