// The generic transform harness (zuko / nflows style): every transform x conditioner, in float64.
// Tolerances: 1e-6 relative for round trips and log-determinants — float64 arithmetic through a few small
// layers is accurate to ~1e-12, so 1e-6 leaves room for the spline's quadratic root while still catching any
// wrong formula (those err by >1e-3).
#include <gtest/gtest.h>

#include "flow/transform_cases.hpp"

namespace nfp::testing {
namespace {

class TransformTest : public ::testing::TestWithParam<TransformCase> {
 protected:
  void SetUp() override {
    torch::manual_seed(0);
    t = GetParam().make(7);
    // Inputs straddle the spline bound (1.5-2.0) so identity tails are exercised too.
    x = torch::randn({5, kDim}, torch::kFloat64) * 1.5;
    const int64_t n = GetParam().context_tokens;
    ctx = n ? torch::randn({5, n, kContext}, torch::kFloat64) : torch::randn({5, kContext}, torch::kFloat64);
  }
  Transform t;
  torch::Tensor x, ctx;
};

double max_rel_err(const torch::Tensor& a, const torch::Tensor& b) {
  return ((a - b).abs() / (b.abs() + 1.0)).max().item<double>();
}

TEST_P(TransformTest, InverseAfterForwardIsIdentity) {
  auto f = t->forward(x, ctx);
  auto b = t->inverse(f.y, ctx);
  EXPECT_LE(max_rel_err(b.y, x), 1e-6);
  EXPECT_LE(max_rel_err(b.logdet, -f.logdet), 1e-6);
  auto z = torch::randn({5, kDim}, torch::kFloat64);
  EXPECT_LE(max_rel_err(t->forward(t->inverse(z, ctx).y, ctx).y, z), 1e-6);
}

TEST_P(TransformTest, LogdetMatchesAutogradJacobian) {
  for (int64_t i = 0; i < x.size(0); ++i) {
    auto xi = x.narrow(0, i, 1).clone().requires_grad_(true);
    auto ci = ctx.narrow(0, i, 1);
    auto r = t->forward(xi, ci);
    auto J = torch::zeros({kDim, kDim}, torch::kFloat64);
    for (int64_t k = 0; k < kDim; ++k) {
      auto g = torch::autograd::grad({r.y[0][k]}, {xi}, {}, /*retain_graph=*/true)[0];
      J[k] = g[0];
    }
    auto logabsdet = std::get<1>(torch::linalg::slogdet(J)).item<double>();
    EXPECT_NEAR(r.logdet.item<double>(), logabsdet, 1e-6 * std::max(1.0, std::abs(logabsdet))) << "sample " << i;
    // And in the inverse direction.
    auto yi = r.y.detach().clone().requires_grad_(true);
    auto b = t->inverse(yi, ci);
    auto Ji = torch::zeros({kDim, kDim}, torch::kFloat64);
    for (int64_t k = 0; k < kDim; ++k) Ji[k] = torch::autograd::grad({b.y[0][k]}, {yi}, {}, true)[0][0];
    auto inv_logabsdet = std::get<1>(torch::linalg::slogdet(Ji)).item<double>();
    EXPECT_NEAR(b.logdet.item<double>(), inv_logabsdet, 1e-6 * std::max(1.0, std::abs(inv_logabsdet)));
  }
}

TEST_P(TransformTest, GradientsReachEveryParameter) {
  t->train();  // dropout on: gradients must still flow
  auto xg = x.clone().requires_grad_(true);
  auto r = t->forward(xg, ctx);
  (r.y.square().sum() + r.logdet.sum()).backward();
  EXPECT_GT(xg.grad().abs().sum().item<double>(), 0.0);
  for (const auto& p : t->named_parameters()) {
    ASSERT_TRUE(p.value().grad().defined()) << p.key() << " got no gradient";
    EXPECT_GT(p.value().grad().abs().sum().item<double>(), 0.0) << p.key() << " got a zero gradient";
    EXPECT_TRUE(torch::isfinite(p.value().grad()).all().item<bool>()) << p.key();
  }
  // The inverse pass is differentiable too (gradient refinement and training through samples need it).
  t->zero_grad();
  auto z = torch::randn({5, kDim}, torch::kFloat64).requires_grad_(true);
  auto b = t->inverse(z, ctx);
  b.y.sum().backward();
  EXPECT_TRUE(z.grad().defined() && torch::isfinite(z.grad()).all().item<bool>());
}

TEST_P(TransformTest, ResultsDoNotDependOnBatchSize) {
  auto full = t->forward(x, ctx);
  for (int64_t i = 0; i < x.size(0); ++i) {
    auto one = t->forward(x.narrow(0, i, 1), ctx.narrow(0, i, 1));
    EXPECT_LE(max_rel_err(one.y, full.y.narrow(0, i, 1)), 1e-10);
    EXPECT_LE(max_rel_err(one.logdet, full.logdet.narrow(0, i, 1)), 1e-10);
  }
}

TEST_P(TransformTest, DeterministicUnderSeed) {
  torch::manual_seed(3);
  auto a = GetParam().make(11);
  torch::manual_seed(3);
  auto b = GetParam().make(11);
  EXPECT_TRUE(torch::equal(a->forward(x, ctx).y, b->forward(x, ctx).y));
  torch::manual_seed(4);
  auto c = GetParam().make(11);
  if (GetParam().torch_seeded_init) {
    // A different torch seed changes the initial weights.
    EXPECT_FALSE(torch::equal(a->forward(x, ctx).y, c->forward(x, ctx).y));
  }
}

TEST_P(TransformTest, ContextChangesTheOutputIffConditional) {
  auto other = torch::randn_like(ctx);
  const bool changed = !torch::allclose(t->forward(x, ctx).y, t->forward(x, other).y);
  EXPECT_EQ(changed, GetParam().conditional);
}

INSTANTIATE_TEST_SUITE_P(AllTransforms, TransformTest, ::testing::ValuesIn(all_transform_cases()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace nfp::testing
