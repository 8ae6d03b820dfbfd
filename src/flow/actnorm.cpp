#include "nfp/actnorm.hpp"

namespace nfp {

ActNormImpl::ActNormImpl(int64_t dim) {
  bias_ = register_parameter("bias", torch::zeros({dim}));
  log_scale_ = register_parameter("log_scale", torch::zeros({dim}));
  initialized_ = register_buffer("initialized", torch::zeros({}, torch::kLong));
}

TransformResult ActNormImpl::forward(const torch::Tensor& x, const torch::Tensor& ctx) {
  if (is_training() && !initialized() && x.size(0) > 1) {
    torch::NoGradGuard ng;
    bias_.copy_(-x.mean(0));
    log_scale_.copy_(-torch::log(x.std(0) + 1e-6));
    initialized_.fill_(1);
  }
  return {(x + bias_) * torch::exp(log_scale_), log_scale_.sum().expand({x.size(0)})};
}

TransformResult ActNormImpl::inverse(const torch::Tensor& y, const torch::Tensor& ctx) {
  return {y * torch::exp(-log_scale_) - bias_, (-log_scale_.sum()).expand({y.size(0)})};
}

}  // namespace nfp
