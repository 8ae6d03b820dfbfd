#include "flow/transform_cases.hpp"

#include "nfp/actnorm.hpp"
#include "nfp/affine_coupling.hpp"
#include "nfp/permutation.hpp"
#include "nfp/plu_linear.hpp"
#include "nfp/spline_coupling.hpp"

namespace nfp::testing {
namespace {

// Wraps a Flow so whole flows run through the same harness.
class FlowAsTransform : public TransformImpl {
 public:
  explicit FlowAsTransform(const FlowConfig& c) : flow_(register_module("flow", Flow(c))) {}
  TransformResult forward(const torch::Tensor& x, const torch::Tensor& ctx) override { return flow_->forward(x, ctx); }
  TransformResult inverse(const torch::Tensor& y, const torch::Tensor& ctx) override { return flow_->inverse(y, ctx); }

 private:
  Flow flow_;
};

ConditionerConfig mlp() {
  ConditionerConfig c;
  c.hidden = 16;
  c.zero_init = true;
  return c;
}

ConditionerConfig transformer(bool positional, bool ff) {
  ConditionerConfig c;
  c.type = "transformer";
  c.hidden = 16;
  c.heads = 2;
  c.depth = 2;
  c.positional = positional;
  c.feedforward = ff;
  c.dropout = 0.1;  // must be inactive in eval mode
  return c;
}

CouplingOptions halves(bool tokens, std::vector<bool> mask = {}) {
  // transformer: split over time steps (1 untouched, 2 transformed: exercises the padding token)
  return CouplingOptions{kDim, tokens ? kTokenDim : kDim / 2, kContext, tokens ? kTokenDim : 0, std::move(mask)};
}

SplineOptions spline(double bound) {
  SplineOptions s;
  s.bins = 5;
  s.bound = bound;
  return s;
}

Transform finish(Transform t, uint64_t seed) {
  t->to(torch::kFloat64);
  perturb_parameters(*t, seed);
  t->eval();
  return t;
}

}  // namespace

void perturb_parameters(torch::nn::Module& m, uint64_t seed) {
  torch::NoGradGuard g;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed + 1000);
  for (auto& p : m.parameters()) p.add_(at::randn(p.sizes(), gen, p.options()) * 0.3);
}

std::vector<TransformCase> all_transform_cases() {
  std::vector<TransformCase> cases;
  cases.push_back({"affine_mlp_separate", true, 0, true, [](uint64_t s) {
                     return finish(std::make_shared<AffineCouplingImpl>(halves(false), mlp(), true), s);
                   }});
  cases.push_back({"affine_mlp_joint_masked", true, 0, true, [](uint64_t s) {
                     return finish(std::make_shared<AffineCouplingImpl>(
                                       halves(false, {true, false, true, false, false, true}), mlp(), false),
                                   s);
                   }});
  cases.push_back({"affine_transformer", true, 2, true, [](uint64_t s) {
                     return finish(std::make_shared<AffineCouplingImpl>(halves(true), transformer(false, false), false),
                                   s);
                   }});
  cases.push_back({"spline_mlp", true, 0, true, [](uint64_t s) {
                     return finish(std::make_shared<SplineCouplingImpl>(halves(false), mlp(), spline(1.5)), s);
                   }});
  cases.push_back({"spline_transformer_pos_ff", true, 2, true, [](uint64_t s) {
                     return finish(
                         std::make_shared<SplineCouplingImpl>(halves(true), transformer(true, true), spline(1.5)), s);
                   }});
  cases.push_back({"plu_linear", false, 0, false, [](uint64_t s) {
                     return finish(std::make_shared<PLULinearImpl>(kDim, at::make_generator<at::CPUGeneratorImpl>(s)),
                                   s);
                   }});
  cases.push_back({"permutation_random", false, 0, false, [](uint64_t s) {
                     return finish(std::make_shared<PermutationImpl>(kDim, "random",
                                                                     at::make_generator<at::CPUGeneratorImpl>(s)),
                                   s);
                   }});
  cases.push_back({"permutation_tokens_reverse", false, 0, false, [](uint64_t s) {
                     return finish(std::make_shared<PermutationImpl>(
                                       kDim, "reverse", at::make_generator<at::CPUGeneratorImpl>(s), kTokenDim),
                                   s);
                   }});
  cases.push_back({"actnorm", false, 0, false, [](uint64_t s) { return finish(std::make_shared<ActNormImpl>(kDim), s); }});
  cases.push_back({"flow_affine_plu_actnorm", true, 0, true, [](uint64_t s) {
                     FlowConfig c;
                     c.dim = kDim;
                     c.context_dim = kContext;
                     c.layers = 3;
                     c.conditioner = mlp();
                     c.plu = true;
                     c.actnorm = true;
                     c.seed = s;
                     return finish(std::make_shared<FlowAsTransform>(c), s);
                   }});
  cases.push_back({"flow_spline_transformer", true, 2, true, [](uint64_t s) {
                     FlowConfig c;
                     c.dim = kDim;
                     c.context_dim = kContext;
                     c.tokens = kTokens;
                     c.coupling = "spline";
                     c.layers = 2;
                     c.conditioner = transformer(false, false);
                     c.spline = spline(2.0);
                     c.seed = s;
                     return finish(std::make_shared<FlowAsTransform>(c), s);
                   }});
  return cases;
}

}  // namespace nfp::testing
