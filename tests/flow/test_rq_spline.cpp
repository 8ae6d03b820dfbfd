// Edge cases of the rational-quadratic spline: knots, the bound, the identity tails, extreme logits.
#include <gtest/gtest.h>

#include "nfp/rq_spline.hpp"

namespace nfp {
namespace {

constexpr int64_t K = 6;

struct Params {
  torch::Tensor w, h, d;  // (N x K), (N x K), (N x K-1)
};

Params random_params(int64_t n, double scale, uint64_t seed) {
  auto g = at::make_generator<at::CPUGeneratorImpl>(seed);
  auto o = torch::TensorOptions().dtype(torch::kFloat64);
  return {at::randn({n, K}, g, o) * scale, at::randn({n, K}, g, o) * scale, at::randn({n, K - 1}, g, o) * scale};
}

SplineOptions opts() {
  SplineOptions o;
  o.bins = K;
  o.bound = 2.0;
  return o;
}

TEST(RqSpline, IsMonotoneAndRoundTrips) {
  const int64_t n = 2001;
  auto x = torch::linspace(-2.5, 2.5, n, torch::kFloat64);
  auto p = random_params(1, 2.0, 1);
  auto w = p.w.expand({n, K}), h = p.h.expand({n, K}), d = p.d.expand({n, K - 1});
  auto f = rq_spline(x, w, h, d, opts(), false);
  EXPECT_TRUE((f.y.diff() > 0).all().item<bool>()) << "the spline must be strictly increasing";
  auto b = rq_spline(f.y, w, h, d, opts(), true);
  EXPECT_LE((b.y - x).abs().max().item<double>(), 1e-9);
  EXPECT_LE((b.logdet + f.logdet).abs().max().item<double>(), 1e-9);
}

TEST(RqSpline, IdentityOutsideTheBoundExactly) {
  auto x = torch::tensor({-1e6, -7.0, -2.0000001, 2.0000001, 3.5, 1e6}, torch::kFloat64);
  auto p = random_params(6, 3.0, 2);
  auto f = rq_spline(x, p.w, p.h, p.d, opts(), false);
  EXPECT_TRUE(torch::equal(f.y, x));
  EXPECT_TRUE(torch::equal(f.logdet, torch::zeros_like(x)));
  auto b = rq_spline(x, p.w, p.h, p.d, opts(), true);
  EXPECT_TRUE(torch::equal(b.y, x));
}

TEST(RqSpline, BoundMapsToBoundWithUnitSlope) {
  auto x = torch::tensor({-2.0, 2.0}, torch::kFloat64);
  auto p = random_params(2, 3.0, 3);
  auto f = rq_spline(x, p.w, p.h, p.d, opts(), false);
  EXPECT_NEAR(f.y[0].item<double>(), -2.0, 1e-12);
  EXPECT_NEAR(f.y[1].item<double>(), 2.0, 1e-12);
  // Boundary derivative 1: log-slope 0 at both ends (continuity with the identity tails).
  EXPECT_NEAR(f.logdet[0].item<double>(), 0.0, 1e-9);
  EXPECT_NEAR(f.logdet[1].item<double>(), 0.0, 1e-9);
}

TEST(RqSpline, InputsOnKnotsAreHandled) {
  // With equal (zero) logits the knots are uniform: -2, -2 + 4/K, ...; feed exactly those points.
  torch::manual_seed(6);
  const int64_t n = K + 1;
  auto x = torch::linspace(-2.0, 2.0, n, torch::kFloat64);
  auto w = torch::zeros({n, K}, torch::kFloat64), h = torch::randn({n, K}, torch::kFloat64);
  auto d = torch::randn({n, K - 1}, torch::kFloat64);
  auto f = rq_spline(x, w, h, d, opts(), false);
  ASSERT_TRUE(torch::isfinite(f.y).all().item<bool>());
  ASSERT_TRUE(torch::isfinite(f.logdet).all().item<bool>());
  auto b = rq_spline(f.y, w, h, d, opts(), true);
  EXPECT_LE((b.y - x).abs().max().item<double>(), 1e-9);
  // Numerical derivative agrees with the analytic log-slope away from the boundary knots.
  const double eps = 1e-7;
  auto fp = rq_spline(x + eps, w, h, d, opts(), false).y, fm = rq_spline(x - eps, w, h, d, opts(), false).y;
  auto num = torch::log((fp - fm) / (2 * eps));
  // At an interior knot the spline is C1 but its curvature jumps, so the central difference errs by
  // ~eps x (curvature jump) <= 1e-5 here; a wrong bin at the knot would err by O(1).
  EXPECT_LE((num - f.logdet).narrow(0, 1, K - 1).abs().max().item<double>(), 1e-4);
}

TEST(RqSpline, ExtremeLogitsGiveNoNaN) {
  for (double scale : {50.0, 1e3, 1e6}) {
    auto p = random_params(200, scale, 4);
    auto x = (torch::rand({200}, torch::kFloat64) * 5.0 - 2.5).requires_grad_(true);
    auto w = p.w.clone().requires_grad_(true);
    auto f = rq_spline(x, w, p.h, p.d, opts(), false);
    ASSERT_TRUE(torch::isfinite(f.y).all().item<bool>()) << "scale " << scale;
    ASSERT_TRUE(torch::isfinite(f.logdet).all().item<bool>()) << "scale " << scale;
    (f.y.sum() + f.logdet.sum()).backward();
    EXPECT_TRUE(torch::isfinite(x.grad()).all().item<bool>()) << "scale " << scale;
    EXPECT_TRUE(torch::isfinite(w.grad()).all().item<bool>()) << "scale " << scale;
    auto b = rq_spline(f.y.detach(), p.w, p.h, p.d, opts(), true);
    ASSERT_TRUE(torch::isfinite(b.y).all().item<bool>()) << "scale " << scale;
    // Extreme bins are 1e-3 wide, so the round trip is only as good as float64 in a steep bin.
    EXPECT_LE((b.y - x.detach()).abs().max().item<double>(), 1e-6) << "scale " << scale;
  }
}

TEST(RqSpline, Float32MatchesFloat64UpToConditioning) {
  // float32 rounds x (or y) by ~1e-7 relative; the spline multiplies that by its local slope (forward) or
  // its inverse (inverse), and random logits make slopes from ~1e-5 to ~1e3. So errors are compared after
  // scaling by the local slope: a formula error would show up unscaled at 1e-2 or more.
  auto p = random_params(500, 2.0, 5);
  auto x = torch::rand({500}, torch::kFloat64) * 4.0 - 2.0;
  auto f64 = rq_spline(x, p.w, p.h, p.d, opts(), false);
  auto f = torch::kFloat32;
  auto f32 = rq_spline(x.to(f), p.w.to(f), p.h.to(f), p.d.to(f), opts(), false);
  auto slope = f64.logdet.exp();
  EXPECT_LE(((f32.y.to(torch::kFloat64) - f64.y).abs() / slope.clamp_min(1.0)).max().item<double>(), 1e-5);
  auto b32 = rq_spline(f64.y.to(f), p.w.to(f), p.h.to(f), p.d.to(f), opts(), true);
  EXPECT_LE(((b32.y.to(torch::kFloat64) - x).abs() * slope.clamp_max(1.0)).max().item<double>(), 1e-5);
}

}  // namespace
}  // namespace nfp
