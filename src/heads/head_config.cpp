// HeadConfig <-> JSON: a head's config.json holds the common keys and that head's own options; the input
// checks every head shares.
#include <algorithm>

#include "heads_internal.hpp"
#include "nfp/error.hpp"

namespace nfp {
namespace {

// Every key of the struct: what checkpoints written before the registry stored, for every head.
json all_keys_json(const HeadConfig& c) {
  return json{{"type", c.type},         {"horizon", c.horizon},       {"action_dim", c.action_dim},
              {"context_dim", c.context_dim}, {"seed", c.seed},       {"layers", c.layers},
              {"hidden", c.hidden},     {"plu", c.plu},               {"action_noise", c.action_noise},
              {"sigma", c.sigma},       {"bins", c.bins},             {"bound", c.bound},
              {"depth", c.depth},       {"heads", c.heads},           {"dropout", c.dropout},
              {"denoiser", c.denoiser}, {"down_dims", c.down_dims},   {"kernel", c.kernel},
              {"train_steps", c.train_steps}, {"infer_steps", c.infer_steps}, {"sampler", c.sampler}};
}

// The keys head `type` reads: the common ones, then its options.
std::vector<std::string> valid_keys(const std::string& type) {
  std::vector<std::string> keys = common_head_options();
  for (const auto& k : head_options(type)) keys.push_back(k);
  return keys;
}

bool contains(const std::vector<std::string>& v, const std::string& s) { return std::find(v.begin(), v.end(), s) != v.end(); }

std::string joined(const std::vector<std::string>& names) {
  std::string s;
  for (const auto& n : names) s += (s.empty() ? "" : ", ") + n;
  return s;
}

}  // namespace

void to_json(json& j, const HeadConfig& c) {
  const json all = all_keys_json(c);
  j = json::object();
  for (const auto& k : valid_keys(c.type)) j[k] = all[k];
}

void from_json(const json& j, HeadConfig& c) {
  require(j.is_object() && j.contains("type") && j["type"].is_string(),
          "head config: an object with a \"type\" (one of " + joined(head_names()) + ") is required");
  const std::string type = j["type"].get<std::string>();
  const std::string w = "head config";
  c = default_head_config(type);
  const std::vector<std::string> valid = valid_keys(type);
  const json old = all_keys_json(c);  // another head's key passes only with the value the old writer stored
  json own = json::object();
  for (const auto& [k, v] : j.items()) {
    if (contains(valid, k)) {
      own[k] = v;
      continue;
    }
    require(old.contains(k), w + ": unknown key " + quoted_value(k) + " for head '" + type + "'; its keys: " + joined(valid));
    const auto& opts = head_options(type);
    require(v == old[k], w + ": '" + k + "' is not an option of head '" + type + "'; its options: " +
                             (opts.empty() ? "none beyond the common keys" : joined(opts)) + " (common keys: " +
                             joined(common_head_options()) + ")");
  }
  c.horizon = json_get(own, "horizon", c.horizon, w);
  c.action_dim = json_get(own, "action_dim", c.action_dim, w);
  c.context_dim = json_get(own, "context_dim", c.context_dim, w);
  c.seed = json_get(own, "seed", c.seed, w);
  c.layers = json_get(own, "layers", c.layers, w);
  c.hidden = json_get(own, "hidden", c.hidden, w);
  c.plu = json_get(own, "plu", c.plu, w);
  c.action_noise = json_get(own, "action_noise", c.action_noise, w);
  c.sigma = json_get(own, "sigma", c.sigma, w);
  c.bins = json_get(own, "bins", c.bins, w);
  c.bound = json_get(own, "bound", c.bound, w);
  c.depth = json_get(own, "depth", c.depth, w);
  c.heads = json_get(own, "heads", c.heads, w);
  c.dropout = json_get(own, "dropout", c.dropout, w);
  c.denoiser = json_get(own, "denoiser", c.denoiser, w);
  c.down_dims = json_get(own, "down_dims", c.down_dims, w);
  c.kernel = json_get(own, "kernel", c.kernel, w);
  c.train_steps = json_get(own, "train_steps", c.train_steps, w);
  c.infer_steps = json_get(own, "infer_steps", c.infer_steps, w);
  c.sampler = json_get(own, "sampler", c.sampler, w);
  head_entry(type).check(c);  // the head's own value checks; shapes are checked by make_head
}

void check_chunk(const HeadConfig& c, const torch::Tensor& a, const char* what) {
  require(a.defined() && a.dim() == 3 && a.size(1) == c.horizon && a.size(2) == c.action_dim,
          std::string(what) + ": head '" + c.type + "' expects actions of shape (B x " + std::to_string(c.horizon) +
              " x " + std::to_string(c.action_dim) + ")");
}

void check_context(const HeadConfig& c, const torch::Tensor& ctx) {
  const bool tokens_ok = head_traits(c.type).reads_context_tokens;
  require(ctx.defined() && (ctx.dim() == 2 || (tokens_ok && ctx.dim() == 3)) && ctx.size(-1) == c.context_dim,
          "head '" + c.type + "' expects a context of shape (B x " + std::to_string(c.context_dim) + ")" +
              (tokens_ok ? " or (B x N x " + std::to_string(c.context_dim) + ")" : ""));
}

}  // namespace nfp
