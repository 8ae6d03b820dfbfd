#include "runtime_fixtures.hpp"

#include <unistd.h>

namespace nfp::test {

std::vector<RuntimeCase> runtime_cases() {
  std::vector<RuntimeCase> out;
  auto base = [](const std::string& coupling, const std::string& cond) {
    FlowConfig c;
    c.dim = 12;
    c.tokens = 4;
    c.context_dim = 6;
    c.coupling = coupling;
    c.layers = 3;
    c.conditioner.type = cond;
    c.conditioner.hidden = 32;
    c.conditioner.heads = 4;
    c.spline.bins = 6;
    c.spline.bound = 2.5;
    c.seed = 3;
    return c;
  };
  {
    auto c = base("affine", "mlp");
    c.plu = true;
    c.actnorm = true;
    out.push_back({"affine_mlp_plu_actnorm", c, 1});
  }
  {
    auto c = base("affine", "mlp");
    c.separate_nets = false;
    c.conditioner.depth = 3;
    c.permutation = "reverse";
    out.push_back({"affine_mlp_joint", c, 1});
  }
  {
    auto c = base("affine", "transformer");
    c.plu = true;
    out.push_back({"affine_transformer", c, 1});
  }
  {
    auto c = base("affine", "transformer");
    c.dim = 15;
    c.tokens = 5;  // odd T: pad tokens
    c.conditioner.positional = true;
    c.conditioner.feedforward = true;
    out.push_back({"affine_transformer_ctx_tokens", c, 3});
  }
  out.push_back({"spline_mlp", base("spline", "mlp"), 1});
  {
    auto c = base("spline", "mlp");
    c.context_dim = 0;
    c.tokens = 0;
    c.permutation = "none";
    c.conditioner.depth = 1;
    out.push_back({"spline_mlp_unconditional", c, 1});
  }
  {
    auto c = base("spline", "transformer");
    out.push_back({"spline_transformer_ctx_tokens", c, 2});
  }
  return out;
}

Flow random_flow(const FlowConfig& c, uint64_t seed) {
  torch::manual_seed(seed);
  Flow f(c);
  torch::NoGradGuard ng;
  for (auto& p : f->named_parameters(true)) {
    const bool zero = p.value().abs().max().item<double>() == 0.0;
    p.value().add_(torch::randn_like(p.value()) * (zero ? 0.2 : 0.05));
  }
  f->eval();
  return f;
}

std::filesystem::path temp_path(const std::string& name) {
  return std::filesystem::temp_directory_path() / ("nfp_rt_" + std::to_string(::getpid()) + "_" + name);
}

}  // namespace nfp::test
