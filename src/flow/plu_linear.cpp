#include "nfp/plu_linear.hpp"

namespace nfp {

PLULinearImpl::PLULinearImpl(int64_t dim, at::Generator gen) : dim_(dim) {
  torch::NoGradGuard ng;
  auto q = std::get<0>(torch::linalg::qr(at::randn({dim, dim}, gen, torch::kDouble)));  // orthogonal
  auto [p, l, u] = torch::linalg_lu(q);  // q = p l u
  auto diag = u.diagonal();
  auto opts = torch::TensorOptions().dtype(torch::kFloat32);
  perm_ = register_buffer("perm", p.to(opts));
  sign_ = register_buffer("sign", torch::sign(diag).to(opts));
  lower_mask_ = register_buffer("lower_mask", torch::tril(torch::ones({dim, dim}, opts), -1));
  upper_mask_ = register_buffer("upper_mask", torch::triu(torch::ones({dim, dim}, opts), 1));
  lower_ = register_parameter("lower", (l * lower_mask_.to(torch::kDouble)).to(opts));
  upper_ = register_parameter("upper", (u * upper_mask_.to(torch::kDouble)).to(opts));
  log_s_ = register_parameter("log_s", torch::log(torch::abs(diag)).to(opts));
}

torch::Tensor PLULinearImpl::lower_factor() const {
  return lower_ * lower_mask_ + torch::eye(dim_, lower_.options());
}

torch::Tensor PLULinearImpl::upper_factor() const {
  return upper_ * upper_mask_ + torch::diag(sign_ * torch::exp(log_s_));
}

torch::Tensor PLULinearImpl::weight() const { return torch::matmul(perm_, torch::matmul(lower_factor(), upper_factor())); }

torch::Tensor PLULinearImpl::inverse_weight() const {
  // W^-1 = U'^-1 L^-1 P^T: solve L A = P^T, then U' W^-1 = A.
  auto a = torch::linalg_solve_triangular(lower_factor(), perm_.t(), /*upper=*/false, /*left=*/true,
                                          /*unitriangular=*/true);
  return torch::linalg_solve_triangular(upper_factor(), a, /*upper=*/true);
}

void PLULinearImpl::train(bool on) {
  cached_inverse_ = torch::Tensor();
  torch::nn::Module::train(on);
}

TransformResult PLULinearImpl::forward(const torch::Tensor& x, const torch::Tensor& ctx) {
  auto logdet = log_s_.sum().expand({x.size(0)});
  return {torch::matmul(x, weight().t()), logdet};
}

TransformResult PLULinearImpl::inverse(const torch::Tensor& y, const torch::Tensor& ctx) {
  torch::Tensor w_inv;
  if (is_training() || torch::GradMode::is_enabled()) {
    w_inv = inverse_weight();
  } else {
    if (!cached_inverse_.defined() || cached_inverse_.scalar_type() != y.scalar_type() ||
        cached_inverse_.device() != y.device()) {
      cached_inverse_ = inverse_weight().detach();
    }
    w_inv = cached_inverse_;
  }
  return {torch::matmul(y, w_inv.t()), -log_s_.sum().expand({y.size(0)})};
}

}  // namespace nfp
