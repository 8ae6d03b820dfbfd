#include "nfp/rq_spline.hpp"

namespace nfp {
namespace {

// Knot positions from unnormalized bin sizes: (... x K) -> (... x K+1), exactly -B and B at the ends.
torch::Tensor knots(const torch::Tensor& unnormalized, double min_size, double B) {
  const int64_t K = unnormalized.size(-1);
  auto size = min_size + (1.0 - min_size * double(K)) * torch::softmax(unnormalized, -1);
  auto inner = (2.0 * B) * torch::cumsum(size, -1).narrow(-1, 0, K - 1) - B;
  auto lo = torch::full_like(inner.narrow(-1, 0, 1), -B), hi = torch::full_like(lo, B);
  return torch::cat({lo, inner, hi}, -1);
}

torch::Tensor gather_last(const torch::Tensor& t, const torch::Tensor& idx) { return t.gather(-1, idx).squeeze(-1); }

}  // namespace

TransformResult rq_spline(const torch::Tensor& x, const torch::Tensor& widths, const torch::Tensor& heights,
                          const torch::Tensor& derivatives, const SplineOptions& o, bool inverse) {
  const double B = o.bound;
  const int64_t K = widths.size(-1);
  auto cw = knots(widths, o.min_bin_width, B);   // (... x K+1)
  auto ch = knots(heights, o.min_bin_height, B);
  auto ones = torch::ones_like(derivatives.narrow(-1, 0, 1));
  auto d = torch::cat({ones, (o.min_derivative + torch::softplus(derivatives)).clamp_max(1.0 / o.min_derivative), ones},
                      -1);  // (... x K+1), boundary derivatives 1

  // Evaluate the spline on the clamped input so values outside stay finite (and their gradients zero).
  auto inside = (x >= -B) & (x <= B);
  auto xc = x.clamp(-B, B).unsqueeze(-1);  // (... x 1)
  auto idx = (torch::searchsorted(inverse ? ch : cw, xc, /*out_int32=*/false, /*right=*/true) - 1).clamp(0, K - 1);
  auto x_k = gather_last(cw, idx), w_k = gather_last(cw, idx + 1) - x_k;
  auto y_k = gather_last(ch, idx), h_k = gather_last(ch, idx + 1) - y_k;
  auto d_k = gather_last(d, idx), d_k1 = gather_last(d, idx + 1);
  auto delta = h_k / w_k;
  auto v = xc.squeeze(-1);
  auto slope_sum = d_k + d_k1 - 2.0 * delta;

  torch::Tensor out, theta;
  if (!inverse) {
    theta = (v - x_k) / w_k;
    auto tt = theta * (1.0 - theta);
    out = y_k + h_k * (delta * theta.square() + d_k * tt) / (delta + slope_sum * tt);
  } else {
    // Solve the quadratic a*theta^2 + b*theta + c = 0 with the root form that avoids cancellation.
    auto dy = v - y_k;
    auto a = dy * slope_sum + h_k * (delta - d_k);
    auto b = h_k * d_k - dy * slope_sum;
    auto c = -delta * dy;
    auto disc = (b.square() - 4.0 * a * c).clamp_min(0.0);
    theta = (2.0 * c) / (-b - torch::sqrt(disc));
    out = theta * w_k + x_k;
  }
  auto tt = theta * (1.0 - theta);
  auto dnum = delta.square() * (d_k1 * theta.square() + 2.0 * delta * tt + d_k * (1.0 - theta).square());
  auto logdet = torch::log(dnum) - 2.0 * torch::log(delta + slope_sum * tt);
  if (inverse) logdet = -logdet;
  return {torch::where(inside, out, x), torch::where(inside, logdet, torch::zeros_like(logdet))};
}

}  // namespace nfp
