// Rational-quadratic spline coupling (NF-P, Neural Spline Flows): the transformed features each go through
// their own monotone spline whose 3K-1 parameters the conditioner reads from the untouched features and c.
#pragma once
#include "nfp/affine_coupling.hpp"
#include "nfp/rq_spline.hpp"

namespace nfp {

class SplineCouplingImpl : public TransformImpl {
 public:
  SplineCouplingImpl(const CouplingOptions& options, const ConditionerConfig& conditioner, const SplineOptions& spline);
  TransformResult forward(const torch::Tensor& x, const torch::Tensor& ctx) override;
  TransformResult inverse(const torch::Tensor& y, const torch::Tensor& ctx) override;

  const CouplingOptions& options() const { return options_; }
  const ConditionerConfig& conditioner() const { return conditioner_; }
  const SplineOptions& spline() const { return spline_; }

 private:
  TransformResult apply(const torch::Tensor& v, const torch::Tensor& ctx, bool inverse);
  CouplingOptions options_;
  ConditionerConfig conditioner_;
  std::shared_ptr<CouplingSplit> split_;
  SplineOptions spline_;
  Conditioner net_;
};

}  // namespace nfp
