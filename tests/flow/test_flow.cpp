// Flow-level behaviour: log-likelihoods of samples, sigma, config JSON, save/load, PLU cache, ActNorm init.
#include <gtest/gtest.h>

#include <filesystem>

#include "nfp/actnorm.hpp"
#include "nfp/error.hpp"
#include "nfp/flow.hpp"
#include "nfp/plu_linear.hpp"
#include "nfp/tensor_io.hpp"

namespace nfp {
namespace {

FlowConfig small_config(const std::string& coupling, const std::string& conditioner) {
  FlowConfig c;
  c.dim = 8;
  c.tokens = 4;
  c.context_dim = 5;
  c.coupling = coupling;
  c.layers = 3;
  c.conditioner.type = conditioner;
  c.conditioner.hidden = 32;
  c.conditioner.heads = 2;
  c.plu = coupling == "affine";
  c.seed = 9;
  return c;
}

class FlowVariants : public ::testing::TestWithParam<std::pair<std::string, std::string>> {};

TEST_P(FlowVariants, LogProbOfOwnSampleEqualsReturnedLogLikelihood) {
  torch::manual_seed(0);
  Flow flow(small_config(GetParam().first, GetParam().second));
  flow->eval();
  torch::NoGradGuard ng;
  auto ctx = torch::randn({3, 5});
  auto s = flow->sample(ctx, 4, 0.7);
  ASSERT_EQ(s.x.sizes(), (std::vector<int64_t>{12, 8}));
  auto lp = flow->log_prob(s.x, ctx.repeat_interleave(4, 0));
  // float32 through 3 layers: agreement to ~1e-4 nats.
  EXPECT_LE((lp - s.log_prob).abs().max().item<double>(), 1e-3);
}

TEST_P(FlowVariants, SigmaZeroGivesTheModeOfTheLatent) {
  torch::manual_seed(0);
  Flow flow(small_config(GetParam().first, GetParam().second));
  flow->eval();
  torch::NoGradGuard ng;
  auto ctx = torch::randn({2, 5});
  auto a = flow->sample(ctx, 3, 0.0), b = flow->sample(ctx, 3, 0.0);
  EXPECT_TRUE(torch::allclose(a.x, b.x));
  EXPECT_TRUE(torch::equal(a.z, torch::zeros_like(a.z)));
}

TEST_P(FlowVariants, SaveLoadGivesIdenticalSamples) {
  torch::manual_seed(0);
  const auto cfg = small_config(GetParam().first, GetParam().second);
  Flow a(cfg);
  const auto path = std::filesystem::temp_directory_path() / ("nfp_flow_" + GetParam().first + ".safetensors");
  save_module(*a, path);
  torch::manual_seed(123);  // different initial weights and permutations must be overwritten by load
  auto other = cfg;
  other.seed = 77;
  Flow b(other);
  load_module(*b, path);
  a->eval();
  b->eval();
  torch::NoGradGuard ng;
  auto ctx = torch::randn({2, 5});
  auto gen_a = at::make_generator<at::CPUGeneratorImpl>(5), gen_b = at::make_generator<at::CPUGeneratorImpl>(5);
  EXPECT_TRUE(torch::equal(a->sample(ctx, 3, 1.0, gen_a).x, b->sample(ctx, 3, 1.0, gen_b).x));
  std::filesystem::remove(path);
}

INSTANTIATE_TEST_SUITE_P(Variants, FlowVariants,
                         ::testing::Values(std::make_pair(std::string("affine"), std::string("mlp")),
                                           std::make_pair(std::string("affine"), std::string("transformer")),
                                           std::make_pair(std::string("spline"), std::string("mlp")),
                                           std::make_pair(std::string("spline"), std::string("transformer"))),
                         [](const auto& i) { return i.param.first + "_" + i.param.second; });

TEST(Flow, LogProbIntegratesToOneIn1DPairs) {
  // A 2-D unconditional spline flow: the density on a fine grid over a box holding ~all the mass sums to ~1.
  torch::manual_seed(1);
  FlowConfig c;
  c.coupling = "spline";
  c.layers = 2;
  c.conditioner.hidden = 16;
  Flow flow(c);
  for (auto& p : flow->parameters()) p.data().add_(torch::randn_like(p) * 0.2);
  flow->eval();
  torch::NoGradGuard ng;
  const int64_t n = 400;
  const double lo = -8, hi = 8, step = (hi - lo) / n;
  auto g = torch::linspace(lo + step / 2, hi - step / 2, n);
  auto grid = torch::stack(torch::meshgrid({g, g}, "ij"), -1).view({-1, 2});
  const double mass = (flow->log_prob(grid).exp().sum() * step * step).item<double>();
  EXPECT_NEAR(mass, 1.0, 0.01);  // midpoint rule on a 400x400 grid: error well below 1%
}

TEST(Flow, ConfigJsonRoundTripsAndRejectsUnknownKeys) {
  auto c = small_config("spline", "transformer");
  c.spline.bins = 11;
  c.conditioner.positional = true;
  json j = c;
  EXPECT_EQ(j["type"], "flow");
  FlowConfig back = j.get<FlowConfig>();
  EXPECT_EQ(json(back), j);
  json bad = j;
  bad["layerz"] = 3;
  EXPECT_THROW(bad.get<FlowConfig>(), Error);
  bad = j;
  bad["conditioner"]["hiden"] = 3;
  EXPECT_THROW(bad.get<FlowConfig>(), Error);
  bad = j;
  bad["layers"] = "ten";
  EXPECT_THROW(bad.get<FlowConfig>(), Error);
}

TEST(Flow, BadShapesAndNamesFailLoudly) {
  FlowConfig c = small_config("affine", "mlp");
  Flow flow(c);
  EXPECT_THROW(flow->log_prob(torch::randn({2, 7}), torch::randn({2, 5})), Error);
  auto bad = c;
  bad.coupling = "cubic";
  EXPECT_THROW(Flow{bad}, Error);
  bad = c;
  bad.conditioner.type = "resnet";
  EXPECT_THROW(Flow{bad}, Error);
  bad = small_config("affine", "transformer");
  bad.tokens = 3;  // 8 features are not 3 time steps
  EXPECT_THROW(Flow{bad}, Error);
}

TEST(PLULinear, CachedInverseIsRefreshedByTrainEval) {
  PLULinearImpl plu(6, at::make_generator<at::CPUGeneratorImpl>(1));
  plu.eval();
  torch::NoGradGuard ng;
  auto z = torch::randn({4, 6});
  auto before = plu.inverse(z, {}).y;
  plu.named_parameters()["log_s"].add_(0.5);
  plu.eval();  // a weight update followed by eval() must not leave a stale W^-1
  auto after = plu.inverse(z, {}).y;
  EXPECT_FALSE(torch::allclose(before, after));
  EXPECT_TRUE(torch::allclose(plu.forward(after, {}).y, z, 1e-4, 1e-5));
  // W is orthogonal at initialisation: W W^T = I.
  PLULinearImpl fresh(6, at::make_generator<at::CPUGeneratorImpl>(2));
  auto w = fresh.weight();
  EXPECT_TRUE(torch::allclose(torch::matmul(w, w.t()), torch::eye(6), 1e-5, 1e-5));
}

TEST(ActNorm, DataDependentInitStandardizesTheFirstBatch) {
  ActNormImpl an(3);
  an.train();
  auto x = torch::randn({512, 3}) * torch::tensor({2.0, 0.5, 7.0}) + torch::tensor({1.0, -3.0, 4.0});
  auto y = an.forward(x, {}).y;
  EXPECT_TRUE(an.initialized());
  EXPECT_LE(y.mean(0).abs().max().item<double>(), 1e-4);
  EXPECT_LE((y.std(0) - 1).abs().max().item<double>(), 1e-3);
  // A second batch does not re-initialise.
  auto y2 = an.forward(x * 2, {}).y;
  EXPECT_GT((y2.std(0) - 1).abs().max().item<double>(), 0.5);
}

}  // namespace
}  // namespace nfp
