// Monotone rational-quadratic spline (Durkan et al. 2019, "Neural Spline Flows"), elementwise.
// On [-bound, bound] the spline passes through K+1 knots with positive derivatives; outside it is the
// identity (linear tails), and the boundary derivatives are 1 so the map is C1 at +-bound.
#pragma once
#include <torch/torch.h>

#include "nfp/transform.hpp"

namespace nfp {

struct SplineOptions {
  int64_t bins = 8;              // K
  double bound = 3.0;            // B: normalized actions live in [-1, 1]; 3 leaves room for the latent side
  double min_bin_width = 1e-3;   // keeps every bin (and the inverse) well conditioned
  double min_bin_height = 1e-3;
  double min_derivative = 1e-3;  // interior knot derivatives lie in [min_derivative, 1 / min_derivative]
};

// x (...), unnormalized widths and heights (... x K), unnormalized interior derivatives (... x K-1).
// Returns y (...) and the elementwise log|dy/dx| (...) (for inverse=true: x from y and log|dx/dy|).
TransformResult rq_spline(const torch::Tensor& x, const torch::Tensor& widths, const torch::Tensor& heights,
                          const torch::Tensor& derivatives, const SplineOptions& options, bool inverse);

}  // namespace nfp
