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

void edit_nfpr(const std::filesystem::path& path, const std::function<void(json&)>& edit) {
  SafeTensorsFile f = read_safetensors(path);
  json cfg = json::parse(f.metadata.at("nfp_runtime"));
  edit(cfg);
  write_nfpr(f, cfg, path);
}

runtime::Model load_exported(Flow flow, const RuntimeCase& tc, const std::string& name,
                             const std::string& weights) {
  const auto path = temp_path(name);
  RuntimeExportOptions o;
  o.context_tokens = tc.context_tokens;
  export_flow(*flow, o, path);
  runtime::Model model(path.string(), weights);
  std::filesystem::remove(path);
  return model;
}

torch::Tensor case_context(const torch::Tensor& obs, const RuntimeCase& tc, int64_t n) {
  const int64_t C = tc.config.context_dim, N = tc.context_tokens;
  if (C == 0) return {};
  return N == 1 ? obs.view({1, C}).expand({n, C}).contiguous() : obs.view({1, N, C}).expand({n, N, C}).contiguous();
}

KeyStats key_stats(NormMode mode, std::vector<double> lo, std::vector<double> hi) {
  KeyStats s;
  s.mode = mode;
  s.min = lo;
  s.max = hi;
  for (size_t j = 0; j < lo.size(); ++j) {
    s.mean.push_back(0.5 * (lo[j] + hi[j]) + 0.1);
    s.std.push_back(0.3 * (hi[j] - lo[j]));
  }
  s.finalize();
  return s;
}

Policy random_policy(const std::string& head, bool prev_action, bool push_task) {
  PolicyConfig c;
  c.obs_keys = {"pos", "goal"};
  c.obs_dims = {3, 2};
  c.action_dim = 3;
  if (push_task) {  // the observation / action shapes of the push-two-goals task (for the control loop)
    c.obs_keys = {"object_state", "state"};
    c.obs_dims = {4, 2};
    c.action_dim = 2;
    c.task = "push-two-goals";
  }
  c.history = 2;
  c.horizon = 4;
  c.n_action_steps = 2;
  c.prev_action = prev_action;
  c.encoder_hidden = 24;
  c.encoder_layers = 2;
  c.context_dim = 10;
  c.head = default_head_config(head);
  c.head.layers = 3;
  c.head.hidden = 32;
  c.head.depth = 1;
  c.head.heads = 2;
  c.head.bins = 6;
  c.head.sigma = 0.8;
  Normalizer n;
  if (push_task) {
    n.keys["object_state"] = key_stats(NormMode::mean_std, {-1, -1, -1, -1}, {1, 1, 1, 1});
    n.keys["state"] = key_stats(NormMode::mean_std, {-1, -1}, {1, 1});
    n.keys["action"] = key_stats(NormMode::min_max, {-1, -1}, {1, 1});
  } else {
    n.keys["pos"] = key_stats(NormMode::mean_std, {-1, 0, 2}, {1, 4, 3});
    n.keys["goal"] = key_stats(NormMode::identity, {0, 0}, {1, 1});
    n.keys["action"] = key_stats(NormMode::min_max, {-2, 0, 1}, {2, 0.5, 5});
  }
  Policy p = make_policy(c, n);
  torch::NoGradGuard ng;
  torch::manual_seed(21);
  for (auto& t : p->parameters()) {  // as test::random_flow: no zero-initialised (identity) layer left
    const bool zero = t.abs().max().item<double>() == 0.0;
    t.add_(torch::randn_like(t) * (zero ? 0.2 : 0.05));
  }
  p->eval();
  return p;
}

}  // namespace nfp::test
