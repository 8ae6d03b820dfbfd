// Reduced-precision weights (src/runtime/model_quantize.cpp), for every head type of the match fixtures
// (NinA-MLP, NinA-Transformer, NF-P spline with MLP / transformer conditioners, unconditional):
//  1. the bf16 / int8 runtime computes exactly the function of libtorch with the same rounded weights: same
//     actions, log p and d log p / d action within the f32 bound of test_runtime_match (1e-4), since both
//     sides then multiply by identical values and differ only in summation order;
//  2. its distance to the f32 runtime (the cost of the rounding) stays within the bounds derived in
//     docs/RUNTIME.md "Weight precision", and is not zero (the rounding did happen).
#include <gtest/gtest.h>

#include "nfp/runtime.hpp"
#include "runtime_fixtures.hpp"

namespace nfp {
namespace {

constexpr double kTol = 1e-4;  // as test_runtime_match: f32 summation-order differences

bool ends_with(const std::string& s, const std::string& t) {
  return s.size() >= t.size() && s.compare(s.size() - t.size(), t.size(), t) == 0;
}

// w (rows x cols, a view) rounded as the runtime stores it: bf16 round-to-nearest-even; int8 one symmetric
// scale max|row| / 127 per output row, round half to even (std::nearbyint's default mode, torch::round).
void round_block(torch::Tensor w, const std::string& weights) {
  if (weights == "bf16") {
    w.copy_(w.to(torch::kBFloat16).to(torch::kFloat32));
    return;
  }
  auto s = w.abs().amax({1}, true) / 127.0f;
  auto q = torch::where(s > 0, (w / s).round().clamp(-127, 127), torch::zeros_like(w));
  w.copy_(q * s);
}

// Rounds the flow's conditioner Linear weights (the 2-D ".weight" parameters: PLU's are lower / upper,
// pad tokens and positional embeddings are not ".weight") as the runtime does. The runtime splits an MLP's
// first Linear into its x_cond and context columns (the context part runs once per call), each with its own
// per-row scales: so does this.
void round_like_runtime(Flow& f, const std::string& weights, int64_t C) {
  torch::NoGradGuard ng;
  for (auto& p : f->named_parameters(true)) {
    auto w = p.value();
    if (!ends_with(p.key(), ".weight") || w.dim() != 2) continue;
    if (C > 0 && ends_with(p.key(), ".body.0.weight")) {
      round_block(w.narrow(1, 0, w.size(1) - C), weights);
      round_block(w.narrow(1, w.size(1) - C, C), weights);
    } else {
      round_block(w, weights);
    }
  }
}

torch::Tensor from(const std::vector<float>& v, int64_t rows, int64_t cols) {
  return torch::from_blob(const_cast<float*>(v.data()), {rows, cols}, torch::kFloat32).clone();
}

using Param = std::tuple<test::RuntimeCase, std::string>;
class RuntimePrecision : public ::testing::TestWithParam<Param> {};

TEST_P(RuntimePrecision, EqualsLibtorchWithRoundedWeightsAndStaysNearF32) {
  const auto& [tc, weights] = GetParam();
  Flow flow = test::random_flow(tc.config, 11);
  runtime::Model narrow = test::load_exported(flow, tc, tc.name + "_" + weights + ".nfpr", weights);
  runtime::Model full = test::load_exported(flow, tc, tc.name + "_f32.nfpr");
  EXPECT_STREQ(narrow.info().weights, weights.c_str());
  EXPECT_STREQ(full.info().weights, "f32");
  const int n = 9, D = int(tc.config.dim), C = int(tc.config.context_dim), N = int(tc.context_tokens);
  runtime::Workspace ws(narrow, n), ws_full(full, n);

  torch::manual_seed(5);
  auto obs = torch::randn({N * C});
  auto z = torch::randn({n, D}) * 1.5;
  const torch::Tensor ctx = test::case_context(obs, tc, n);
  std::vector<float> obs_v(obs.data_ptr<float>(), obs.data_ptr<float>() + obs.numel());
  std::vector<float> z_v(z.data_ptr<float>(), z.data_ptr<float>() + z.numel()), x(size_t(n) * D), xf(size_t(n) * D);
  std::vector<double> lp(static_cast<size_t>(n)), lpf(static_cast<size_t>(n));
  ASSERT_EQ(ws.sample_latent(obs_v, z_v, n, x, lp.data()), NFP_RT_OK);
  ASSERT_EQ(ws_full.sample_latent(obs_v, z_v, n, xf, lpf.data()), NFP_RT_OK);

  // 2. The cost of the rounding, against the f32 runtime (bounds: docs/RUNTIME.md).
  const double da = (from(x, n, D) - from(xf, n, D)).abs().max().item<double>();
  const double dlp = (torch::tensor(lp, torch::kFloat64) - torch::tensor(lpf, torch::kFloat64)).abs().max().item<double>();
  // First order, the change is eps x the flow's sensitivity to a relative weight change, where eps = 2^-8
  // bounds both roundings (bf16: |dw| <= 2^-8 |w|; int8: |dw| <= max|row| / 254 < 2^-8 max|row|). The
  // sensitivity of these fixtures (z up to ~5 at 1.5 sigma) measures <= 13 in |a| (docs/RUNTIME.md): 20 eps.
  const double bound = 20 * 0x1p-8;
  EXPECT_GT(da, 0.0) << "no rounding happened";
  EXPECT_LE(da, bound) << tc.name;
  EXPECT_LE(dlp, bound * D) << tc.name;
  std::printf("[ %s %s ] max |da| %.2e, max |dlog p| %.2e vs f32\n", tc.name.c_str(), weights.c_str(), da, dlp);

  // 1. The same function as libtorch on the rounded weights.
  round_like_runtime(flow, weights, C);
  torch::NoGradGuard ng;
  auto ref = flow->sample_from(z, ctx);
  EXPECT_LE((from(x, n, D) - ref.x).abs().max().item<double>(), kTol) << tc.name;
  EXPECT_LE((torch::tensor(lp, torch::kFloat64) - ref.log_prob.to(torch::kFloat64)).abs().max().item<double>(), kTol)
      << tc.name;

  // The gradient path (GR) on the same rounded weights, against autograd.
  const int ng_rows = 4;
  auto a = (torch::randn({ng_rows, D}) * 1.2);
  std::vector<float> a_v(a.data_ptr<float>(), a.data_ptr<float>() + a.numel()), g(size_t(ng_rows) * D);
  std::vector<double> lp_g(static_cast<size_t>(ng_rows));
  const auto status = ws.log_prob_grad(obs_v, a_v, ng_rows, lp_g.data(), g);
  if (!narrow.info().has_gradient) {
    EXPECT_EQ(status, NFP_RT_UNSUPPORTED);
    return;
  }
  ASSERT_EQ(status, NFP_RT_OK);
  torch::Tensor gref, lpref;
  {
    torch::AutoGradMode on(true);
    auto ag = a.clone().requires_grad_(true);
    lpref = flow->log_prob(ag, C > 0 ? ctx.narrow(0, 0, ng_rows) : ctx);
    gref = torch::autograd::grad({lpref.sum()}, {ag})[0];
  }
  const double scale = std::max(1.0, gref.abs().max().item<double>());
  EXPECT_LE((from(g, ng_rows, D) - gref).abs().max().item<double>(), kTol * scale) << tc.name;
  EXPECT_LE((torch::tensor(lp_g, torch::kFloat64) - lpref.detach().to(torch::kFloat64)).abs().max().item<double>(), kTol);
}

std::vector<Param> params() {
  std::vector<Param> out;
  for (const auto& c : test::runtime_cases())
    for (const char* w : {"bf16", "int8"}) out.emplace_back(c, w);
  return out;
}

INSTANTIATE_TEST_SUITE_P(Heads, RuntimePrecision, ::testing::ValuesIn(params()),
                         [](const auto& info) { return std::get<0>(info.param).name + "_" + std::get<1>(info.param); });

TEST(RuntimePrecisionApi, BadWeightsValueFailsClearly) {
  FlowConfig c;
  c.dim = 4;
  c.layers = 2;
  Flow flow = test::random_flow(c, 3);
  const auto path = test::temp_path("bad_weights.nfpr");
  export_flow(*flow, RuntimeExportOptions{}, path);
  char err[256] = {0};
  nfp_rt_load_options o{};
  o.weights = "fp8";
  EXPECT_EQ(nfp_rt_model_load_ex(path.string().c_str(), &o, err, sizeof err), nullptr);
  EXPECT_STREQ(err, "unknown weight precision 'fp8': expected f32, bf16, int8 or w8a8");
  EXPECT_THROW(runtime::Model(path.string(), "int4"), std::runtime_error);
  // NULL options and NULL weights are the f32 default, like nfp_rt_model_load.
  nfp_rt_model* m = nfp_rt_model_load_ex(path.string().c_str(), nullptr, err, sizeof err);
  ASSERT_NE(m, nullptr);
  nfp_rt_info info{};
  nfp_rt_model_info(m, &info);
  EXPECT_STREQ(info.weights, "f32");
  nfp_rt_model_free(m);
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace nfp
