#include "nfp/permutation.hpp"

#include "nfp/error.hpp"

namespace nfp {

PermutationImpl::PermutationImpl(int64_t dim, const std::string& kind, at::Generator gen, int64_t token_dim) {
  const int64_t A = token_dim > 1 ? token_dim : 1;
  require(dim % A == 0, "permutation: dim must be a multiple of token_dim");
  const int64_t n = dim / A;
  torch::Tensor order;
  if (kind == "random") {
    order = at::randperm(n, gen, torch::kLong);
  } else if (kind == "reverse") {
    order = torch::arange(n - 1, -1, -1, torch::kLong);
  } else {
    throw Error("unknown permutation " + quoted_value(kind) + "; known: random, reverse");
  }
  // Expand the order of time steps to the order of their features.
  auto perm = (order.unsqueeze(1) * A + torch::arange(A, torch::kLong).unsqueeze(0)).reshape({dim});
  perm_ = register_buffer("perm", perm);
  inverse_perm_ = register_buffer("inverse_perm", torch::argsort(perm));
}

namespace {
// Module::to(dtype) converts integer buffers too; index with int64 whatever the module was cast to.
torch::Tensor as_index(const torch::Tensor& t) { return t.scalar_type() == torch::kLong ? t : t.to(torch::kLong); }
}  // namespace

TransformResult PermutationImpl::forward(const torch::Tensor& x, const torch::Tensor& ctx) {
  return {x.index_select(1, as_index(perm_)), torch::zeros({x.size(0)}, x.options())};
}

TransformResult PermutationImpl::inverse(const torch::Tensor& y, const torch::Tensor& ctx) {
  return {y.index_select(1, as_index(inverse_perm_)), torch::zeros({y.size(0)}, y.options())};
}

}  // namespace nfp
