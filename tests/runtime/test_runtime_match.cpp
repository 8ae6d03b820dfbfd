// The runtime against libtorch for every head type: same weights, same latent noise -> same actions and
// log-likelihoods (max abs 1e-4, normalized units), and d log p / d action against autograd.
#include <gtest/gtest.h>

#include <unistd.h>

#include "nfp/runtime.hpp"
#include "runtime_fixtures.hpp"

namespace nfp {
namespace {

// float32 through a few layers on both sides, with different summation orders: 1e-4 is the bound
// and about 100x the differences seen.
constexpr double kTol = 1e-4;

class RuntimeMatch : public ::testing::TestWithParam<test::RuntimeCase> {};

torch::Tensor from(const std::vector<float>& v, int64_t rows, int64_t cols) {
  return torch::from_blob(const_cast<float*>(v.data()), {rows, cols}, torch::kFloat32).clone();
}

TEST_P(RuntimeMatch, SamplesAndLogProbsEqualLibtorch) {
  const auto& tc = GetParam();
  Flow flow = test::random_flow(tc.config, 11);
  runtime::Model model = test::load_exported(flow, tc, tc.name + ".nfpr");
  const int n = 9, D = int(tc.config.dim), C = int(tc.config.context_dim), N = int(tc.context_tokens);
  ASSERT_EQ(model.info().dim, D);
  ASSERT_EQ(model.info().obs_dim, N * C);
  runtime::Workspace ws(model, n);

  torch::manual_seed(5);
  auto obs = torch::randn({N * C});
  auto z = torch::randn({n, D}) * 1.5;  // 1.5: some values past the spline bound (identity tails)
  const torch::Tensor ctx = test::case_context(obs, tc, n);
  torch::NoGradGuard ng;
  auto ref = flow->sample_from(z, ctx);

  std::vector<float> obs_v(obs.data_ptr<float>(), obs.data_ptr<float>() + obs.numel());
  std::vector<float> z_v(z.data_ptr<float>(), z.data_ptr<float>() + z.numel()), x(static_cast<size_t>(n) * D);
  std::vector<double> lp(static_cast<size_t>(n));
  ASSERT_EQ(ws.sample_latent(obs_v, z_v, n, x, lp.data()), NFP_RT_OK);
  EXPECT_LE((from(x, n, D) - ref.x).abs().max().item<double>(), kTol) << tc.name;
  auto lp_t = torch::tensor(lp, torch::kFloat64);
  EXPECT_LE((lp_t - ref.log_prob.to(torch::kFloat64)).abs().max().item<double>(), kTol) << tc.name;

  // log p of given chunks (the forward direction).
  auto a = torch::randn({n, D});
  auto ref_lp = flow->log_prob(a, ctx).to(torch::kFloat64);
  std::vector<float> a_v(a.data_ptr<float>(), a.data_ptr<float>() + a.numel());
  ASSERT_EQ(ws.log_prob(obs_v, a_v, n, lp.data()), NFP_RT_OK);
  EXPECT_LE((torch::tensor(lp, torch::kFloat64) - ref_lp).abs().max().item<double>(), kTol) << tc.name;
}

TEST_P(RuntimeMatch, LogProbGradientEqualsAutograd) {
  const auto& tc = GetParam();
  Flow flow = test::random_flow(tc.config, 12);
  runtime::Model model = test::load_exported(flow, tc, tc.name + "_grad.nfpr");
  const int n = 4, D = int(tc.config.dim), C = int(tc.config.context_dim), N = int(tc.context_tokens);
  runtime::Workspace ws(model, n);
  torch::manual_seed(6);
  auto obs = torch::randn({N * C});
  auto a = (torch::randn({n, D}) * 1.2).requires_grad_(true);
  const torch::Tensor ctx = test::case_context(obs, tc, n);
  auto lp = flow->log_prob(a, ctx);
  lp.sum().backward();
  std::vector<float> obs_v(obs.data_ptr<float>(), obs.data_ptr<float>() + obs.numel());
  auto ad = a.detach().contiguous();
  std::vector<float> a_v(ad.data_ptr<float>(), ad.data_ptr<float>() + ad.numel()), g(static_cast<size_t>(n) * D);
  std::vector<double> lp_v(static_cast<size_t>(n));
  const auto status = ws.log_prob_grad(obs_v, a_v, n, lp_v.data(), g);
  ASSERT_EQ(status, NFP_RT_OK);
  // Gradients are sums of many float terms: relative 1e-4 of their scale.
  const double scale = std::max(1.0, a.grad().abs().max().item<double>());
  EXPECT_LE((from(g, n, D) - a.grad()).abs().max().item<double>(), kTol * scale) << tc.name;
  EXPECT_LE((torch::tensor(lp_v, torch::kFloat64) - lp.detach().to(torch::kFloat64)).abs().max().item<double>(), kTol);
}

// GR (K Adam steps on log p, best chunk kept) against the same loop on libtorch autograd, started from the
// runtime's own sample for that seed. Adam's steps are normalized gradients, so small gradient differences
// stay small: the same 1e-4 bound.
TEST_P(RuntimeMatch, GradientRefinementEqualsLibtorch) {
  const auto& tc = GetParam();
  Flow flow = test::random_flow(tc.config, 13);
  runtime::Model model = test::load_exported(flow, tc, tc.name + "_gr.nfpr");
  const int D = int(tc.config.dim), C = int(tc.config.context_dim), N = int(tc.context_tokens), K = 6;
  const float sigma = 0.7f, lr = 0.02f;
  runtime::Workspace ws(model, 1);
  torch::manual_seed(7);
  auto obs = torch::randn({N * C});
  std::vector<float> obs_v(obs.data_ptr<float>(), obs.data_ptr<float>() + obs.numel()), x0(static_cast<size_t>(D)), got(static_cast<size_t>(D));
  double lp0 = 0, lp_rt = 0;
  ASSERT_EQ(ws.sample(obs_v, sigma, 42, x0, &lp0), NFP_RT_OK);
  ASSERT_EQ(ws.gr(obs_v, K, lr, sigma, 42, got, &lp_rt), NFP_RT_OK);
  const torch::Tensor ctx = test::case_context(obs, tc, 1);
  auto a = from(x0, 1, D), best = a.clone();
  double best_lp = lp0;
  auto m = torch::zeros_like(a), v = torch::zeros_like(a);
  for (int k = 1; k <= K; ++k) {
    auto x = a.detach().requires_grad_(true);
    auto lp = flow->log_prob(x, ctx);
    auto g = torch::autograd::grad({lp.sum()}, {x})[0];
    if (k > 1 && lp.item<double>() > best_lp) best = a.clone(), best_lp = lp.item<double>();
    m = 0.9 * m + 0.1 * g;
    v = 0.999 * v + 0.001 * g * g;
    a = a + lr * (m / (1 - std::pow(0.9, k))) / ((v / (1 - std::pow(0.999, k))).sqrt() + 1e-8);
  }
  torch::NoGradGuard ng;
  const double last = flow->log_prob(a, ctx).item<double>();
  if (last > best_lp) best = a, best_lp = last;
  EXPECT_LE((from(got, 1, D) - best).abs().max().item<double>(), kTol) << tc.name;
  EXPECT_NEAR(lp_rt, best_lp, kTol * std::max(1.0, std::abs(best_lp))) << tc.name;
  EXPECT_GE(lp_rt, lp0) << "GR lowered log p";
}

INSTANTIATE_TEST_SUITE_P(Heads, RuntimeMatch, ::testing::ValuesIn(test::runtime_cases()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace nfp
