#include <functional>

#include "heads_internal.hpp"
#include "nfp/error.hpp"

namespace nfp {
namespace {

struct HeadEntry {
  const char* name;
  std::function<ActionHead(const HeadConfig&)> make;
};

const std::vector<HeadEntry>& head_table() {
  static const std::vector<HeadEntry> table = {
      {"nina-mlp", make_flow_head},       {"nina-transformer", make_flow_head},
      {"nfp-spline", make_flow_head},     {"diffusion", make_diffusion_head},
      {"flow-matching", make_flow_matching_head}, {"regression", make_regression_head},
  };
  return table;
}

std::string joined_names() {
  std::string s;
  for (const auto& n : head_names()) s += (s.empty() ? "" : ", ") + n;
  return s;
}

}  // namespace

std::vector<std::string> head_names() {
  std::vector<std::string> names;
  for (const auto& e : head_table()) names.push_back(e.name);
  return names;
}

HeadConfig default_head_config(const std::string& type, int64_t horizon, int64_t action_dim, int64_t context_dim) {
  HeadConfig c;
  c.type = type;
  c.horizon = horizon;
  c.action_dim = action_dim;
  c.context_dim = context_dim;
  if (type == "nina-mlp") {
    c.layers = 6;   // NinA: 18 x 256 for a VLA; 6 x 128 fits a low-dim chunk and trains in minutes on 2 cores
    c.hidden = 128;
  } else if (type == "nina-transformer") {
    c.layers = 6;
    c.hidden = 128;
    c.depth = 2;
    c.heads = 4;
  } else if (type == "nfp-spline") {
    c.layers = 10;  // NF-P: 10 rational-quadratic spline couplings
    c.hidden = 256;
    c.plu = false;
    c.sigma = 0.5;  // NF-P's best sampling std
  } else if (type == "diffusion") {
    c.layers = 3;   // MLP denoiser option
    c.hidden = 256;
    c.infer_steps = 10;
  } else if (type == "flow-matching") {
    c.layers = 3;
    c.hidden = 256;
    c.infer_steps = 4;  // FLOWER's Euler steps
  } else if (type == "regression") {
    c.layers = 3;
    c.hidden = 256;
  } else {
    throw Error("unknown action head '" + type + "'; known heads: " + joined_names());
  }
  return c;
}

void to_json(json& j, const HeadConfig& c) {
  j = json{{"type", c.type},         {"horizon", c.horizon},       {"action_dim", c.action_dim},
           {"context_dim", c.context_dim}, {"seed", c.seed},       {"layers", c.layers},
           {"hidden", c.hidden},     {"plu", c.plu},               {"action_noise", c.action_noise},
           {"sigma", c.sigma},       {"bins", c.bins},             {"bound", c.bound},
           {"depth", c.depth},       {"heads", c.heads},           {"dropout", c.dropout},
           {"denoiser", c.denoiser}, {"down_dims", c.down_dims},   {"kernel", c.kernel},
           {"train_steps", c.train_steps}, {"infer_steps", c.infer_steps}, {"sampler", c.sampler}};
}

void from_json(const json& j, HeadConfig& c) {
  require(j.is_object() && j.contains("type") && j["type"].is_string(),
          "head config: an object with a \"type\" (one of " + joined_names() + ") is required");
  const std::string w = "head config";
  c = default_head_config(j["type"].get<std::string>());
  json known;
  to_json(known, c);
  require_known_keys(j, json_keys(known), w);
  c.horizon = json_get(j, "horizon", c.horizon, w);
  c.action_dim = json_get(j, "action_dim", c.action_dim, w);
  c.context_dim = json_get(j, "context_dim", c.context_dim, w);
  c.seed = json_get(j, "seed", c.seed, w);
  c.layers = json_get(j, "layers", c.layers, w);
  c.hidden = json_get(j, "hidden", c.hidden, w);
  c.plu = json_get(j, "plu", c.plu, w);
  c.action_noise = json_get(j, "action_noise", c.action_noise, w);
  c.sigma = json_get(j, "sigma", c.sigma, w);
  c.bins = json_get(j, "bins", c.bins, w);
  c.bound = json_get(j, "bound", c.bound, w);
  c.depth = json_get(j, "depth", c.depth, w);
  c.heads = json_get(j, "heads", c.heads, w);
  c.dropout = json_get(j, "dropout", c.dropout, w);
  c.denoiser = json_get(j, "denoiser", c.denoiser, w);
  c.down_dims = json_get(j, "down_dims", c.down_dims, w);
  c.kernel = json_get(j, "kernel", c.kernel, w);
  c.train_steps = json_get(j, "train_steps", c.train_steps, w);
  c.infer_steps = json_get(j, "infer_steps", c.infer_steps, w);
  c.sampler = json_get(j, "sampler", c.sampler, w);
}

ActionHead make_head(const HeadConfig& c) {
  for (const auto& e : head_table())
    if (c.type == e.name) {
      require(c.horizon >= 1 && c.action_dim >= 1 && c.context_dim >= 1,
              "head '" + c.type + "': horizon, action_dim and context_dim must be >= 1");
      require(c.layers >= 1 && c.hidden >= 1, "head '" + c.type + "': layers and hidden must be >= 1");
      return e.make(c);
    }
  throw Error("unknown action head '" + c.type + "'; known heads: " + joined_names());
}

torch::Tensor ActionHeadImpl::log_prob(const torch::Tensor&, const torch::Tensor&) {
  throw Error("head '" + config().type +
              "' has no likelihood; log_prob (and the sbs / gr / denoise strategies) need a flow head "
              "(nina-mlp, nina-transformer, nfp-spline)");
}

void check_chunk(const HeadConfig& c, const torch::Tensor& a, const char* what) {
  require(a.defined() && a.dim() == 3 && a.size(1) == c.horizon && a.size(2) == c.action_dim,
          std::string(what) + ": head '" + c.type + "' expects actions of shape (B x " + std::to_string(c.horizon) +
              " x " + std::to_string(c.action_dim) + ")");
}

bool takes_context_tokens(const std::string& type) { return type == "nina-transformer"; }

void check_context(const HeadConfig& c, const torch::Tensor& ctx) {
  const bool tokens_ok = takes_context_tokens(c.type);
  require(ctx.defined() && (ctx.dim() == 2 || (tokens_ok && ctx.dim() == 3)) && ctx.size(-1) == c.context_dim,
          "head '" + c.type + "' expects a context of shape (B x " + std::to_string(c.context_dim) + ")" +
              (tokens_ok ? " or (B x N x " + std::to_string(c.context_dim) + ")" : ""));
}

}  // namespace nfp
