#include "flow/coupling_split.hpp"

#include "nfp/error.hpp"

namespace nfp {

CouplingSplit::CouplingSplit(int64_t dim, int64_t cond_dim, const std::vector<bool>& mask)
    : dim_(dim), cond_dim_(cond_dim) {
  if (mask.empty()) {
    require(cond_dim > 0 && cond_dim < dim, "coupling: need 0 < untouched features < dim (dim = " +
                                                std::to_string(dim) + "); a coupling needs dim >= 2");
    return;
  }
  require(int64_t(mask.size()) == dim, "coupling: the mask must have one entry per feature");
  std::vector<int64_t> c, t;
  for (int64_t i = 0; i < dim; ++i) (mask[i] ? t : c).push_back(i);
  require(!c.empty() && !t.empty(), "coupling: the mask must leave at least one feature on each side");
  cond_dim_ = int64_t(c.size());
  cond_idx_ = torch::tensor(c, torch::kLong);
  trans_idx_ = torch::tensor(t, torch::kLong);
  merge_idx_ = torch::argsort(torch::cat({cond_idx_, trans_idx_}));
}

std::pair<torch::Tensor, torch::Tensor> CouplingSplit::split(const torch::Tensor& x) const {
  if (!cond_idx_.defined()) return {x.narrow(1, 0, cond_dim_), x.narrow(1, cond_dim_, dim_ - cond_dim_)};
  return {x.index_select(1, cond_idx_.to(x.device())), x.index_select(1, trans_idx_.to(x.device()))};
}

torch::Tensor CouplingSplit::merge(const torch::Tensor& x_cond, const torch::Tensor& x_trans) const {
  auto cat = torch::cat({x_cond, x_trans}, 1);
  return merge_idx_.defined() ? cat.index_select(1, merge_idx_.to(cat.device())) : cat;
}

}  // namespace nfp
