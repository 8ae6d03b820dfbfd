#include "runtime_fixtures.hpp"

#include "nfp/instruction_encoder.hpp"

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

// Every weight moved by N(0, scale^2), zero-initialised ones by N(0, 0.2^2), so that no layer is the identity (as
// test::random_flow); eval mode.
void perturb_weights(PolicyImpl& p, double scale) {
  torch::NoGradGuard ng;
  for (auto& t : p.parameters()) {
    const bool zero = t.abs().max().item<double>() == 0.0;
    t.add_(torch::randn_like(t) * (zero ? 0.2 : scale));
  }
  p.eval();
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
  torch::manual_seed(21);
  perturb_weights(*p, 0.05);
  return p;
}


std::vector<EncoderCase> encoder_cases() {
  std::vector<EncoderCase> v;
  auto cam = [](std::string name) {
    EncoderCase c;
    c.name = std::move(name);
    c.cameras = {"top_image"};
    return c;
  };
  v.push_back(cam("conv_flatten"));
  {
    auto c = cam("conv_spatial_softmax_history1");
    c.pool = "spatial_softmax";
    c.history = 1;
    v.push_back(c);
  }
  {
    auto c = cam("conv_avg_two_cameras_per_camera_weights_no_state");
    c.pool = "avg";
    c.cameras = {"top_image", "wrist_image"};
    c.shared = false;
    c.state = false;
    c.prev_action = false;
    v.push_back(c);
  }
  {
    auto c = cam("conv_resize_and_crop");
    c.camera_hw = 37;  // 37 -> resize 26 -> centre crop 20
    c.resize = 26;
    v.push_back(c);
  }
  {
    auto c = cam("resnet18_avg");
    c.encoder = "resnet18";
    c.pool = "avg";
    c.hw = 33;
    v.push_back(c);
  }
  {
    auto c = cam("resnet18_flatten_width_0_3");
    c.encoder = "resnet18";
    c.width = 0.3;  // stage widths 19, 38, 77, 154: groups fall back to divisors
    c.hw = 40;
    c.history = 1;
    v.push_back(c);
  }
  {
    EncoderCase c;
    c.name = "instruction_attention_pool";
    c.instruction = true;
    v.push_back(c);
  }
  {
    EncoderCase c;
    c.name = "instruction_mean_pool_no_blocks_mlp_head";
    c.head = "nina-mlp";
    c.instruction = true;
    c.attention_pool = false;
    c.word_layers = 0;
    v.push_back(c);
  }
  {
    EncoderCase c;
    c.name = "instruction_tokens_nina_transformer";
    c.head = "nina-transformer";
    c.instruction = c.tokens = true;
    v.push_back(c);
  }
  {
    auto c = cam("conv_and_instruction_nina_transformer_tokens");
    c.head = "nina-transformer";
    c.instruction = c.tokens = true;
    v.push_back(c);
  }
  return v;
}

Policy encoder_policy(const EncoderCase& e) {
  PolicyConfig c;
  if (e.state) {
    c.obs_keys = {"pos", "goal"};
    c.obs_dims = {3, 2};
  }
  c.obs = {};
  if (e.state) c.obs.push_back("state");
  if (!e.cameras.empty()) c.obs.push_back("images");
  if (e.instruction) c.obs.push_back("instruction");
  c.action_dim = 3;
  c.history = e.history;
  c.horizon = 4;
  c.prev_action = e.prev_action;
  c.encoder_hidden = 24;
  c.context_dim = 10;
  c.cameras = e.cameras;
  if (!e.cameras.empty()) {
    c.image_hw = {e.hw, e.hw};
    c.image_encoder.type = e.encoder;
    c.image_encoder.pool = e.pool;
    c.image_encoder.shared = e.shared;
    c.image_encoder.width = e.width;
    c.image_encoder.conv_channels = 6;
    c.image_encoder.feature_dim = 7;
    c.image_encoder.groups = 4;
    if (e.resize) {
      c.image_preprocess.resize = {e.resize, e.resize};
      c.image_preprocess.source = {{e.camera_hw, e.camera_hw}};
      c.image_preprocess.crop = {e.hw, e.hw};
      c.image_preprocess.crop_from = {e.resize, e.resize};
    }
  }
  if (e.instruction) {
    c.instruction_encoder.embed_dim = 8;
    c.instruction_encoder.heads = 2;
    c.instruction_encoder.max_tokens = 6;
    c.instruction_encoder.layers = e.word_layers;
    c.instruction_encoder.pool = e.attention_pool ? "attention" : "mean";
    c.instruction_encoder.vocabulary =
        build_vocabulary({"push the red block to the left goal", "lift blue", "put on green pad"}).words;
    c.instruction_tokens = e.tokens;
  }
  c.head = default_head_config(e.head);
  c.head.layers = 3;
  c.head.hidden = 16;
  c.head.depth = 1;
  c.head.heads = 2;
  c.head.bins = 6;
  Normalizer n;
  if (e.state) {
    n.keys["pos"] = key_stats(NormMode::mean_std, {-1, 0, 2}, {1, 4, 3});
    n.keys["goal"] = key_stats(NormMode::identity, {0, 0}, {1, 1});
  }
  n.keys["action"] = key_stats(NormMode::min_max, {-2, 0, 1}, {2, 0.5, 5});
  torch::manual_seed(5);  // the weights depend on the case alone, not on the tests run before
  Policy p = make_policy(c, n);
  perturb_weights(*p, 0.1);  // GroupNorm's unit gains too
  return p;
}

Image random_image(int64_t h, int64_t w, uint64_t seed) {
  Image im{int(h), int(w), std::vector<uint8_t>(size_t(h * w * 3))};
  uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
  for (auto& px : im.pixels) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    px = uint8_t(s >> 56);
  }
  return im;
}

}  // namespace nfp::test
