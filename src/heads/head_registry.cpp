// The head registry: the one table of heads, and everything keyed by a head's name (traits, defaults, option
// keys, train defaults, construction). Each entry is defined in its head's own file (heads_internal.hpp).
#include <algorithm>

#include "heads_internal.hpp"
#include "nfp/error.hpp"

namespace nfp {
namespace {

// An explicit table (not static self-registration, which a static library's linker may drop); its order is
// head_names()'s.
const std::vector<HeadEntry>& head_table() {
  static const std::vector<HeadEntry> table = {nina_mlp_head_entry(),  nina_transformer_head_entry(),
                                               nfp_spline_head_entry(), diffusion_head_entry(),
                                               flow_matching_head_entry(), regression_head_entry()};
  return table;
}

const HeadEntry* find_entry(const std::string& type) {
  for (const auto& e : head_table())
    if (e.traits.name == type) return &e;
  return nullptr;
}

std::string joined(const std::vector<std::string>& names) {
  std::string s;
  for (const auto& n : names) s += (s.empty() ? "" : ", ") + n;
  return s;
}

}  // namespace

const HeadEntry& head_entry(const std::string& type) {
  if (const HeadEntry* e = find_entry(type)) return *e;
  throw Error("unknown action head " + quoted_value(type) + "; known heads: " + joined(head_names()));
}

std::vector<std::string> head_names() {
  std::vector<std::string> names;
  for (const auto& e : head_table()) names.push_back(e.traits.name);
  return names;
}

bool is_head_name(const std::string& type) { return find_entry(type) != nullptr; }

const HeadTraits& head_traits(const std::string& type) { return head_entry(type).traits; }

const std::vector<std::string>& head_options(const std::string& type) { return head_entry(type).options; }

const std::vector<std::string>& common_head_options() {
  static const std::vector<std::string> keys = {"type", "horizon", "action_dim", "context_dim", "seed", "layers", "hidden"};
  return keys;
}

const json& head_train_defaults(const std::string& type) { return head_entry(type).train_defaults; }


HeadConfig default_head_config(const std::string& type, int64_t horizon, int64_t action_dim, int64_t context_dim) {
  const HeadEntry& e = head_entry(type);
  HeadConfig c;  // other heads' keys keep the struct's initializers (what old checkpoints stored for them)
  c.type = type;
  c.horizon = horizon;
  c.action_dim = action_dim;
  c.context_dim = context_dim;
  e.set_defaults(c);
  return c;
}

ActionHead make_head(const HeadConfig& c) {
  const HeadEntry& e = head_entry(c.type);
  require(c.horizon >= 1 && c.action_dim >= 1 && c.context_dim >= 1,
          "head '" + c.type + "': horizon, action_dim and context_dim must be >= 1");
  require(c.layers >= 1 && c.hidden >= 1, "head '" + c.type + "': layers and hidden must be >= 1");
  e.check(c);
  return e.make(c);
}

torch::Tensor ActionHeadImpl::log_prob(const torch::Tensor&, const torch::Tensor&) {
  std::vector<std::string> flows;
  for (const auto& e : head_table())
    if (e.traits.has_likelihood) flows.push_back(e.traits.name);
  throw Error("head '" + config().type + "' has no likelihood; log_prob (and the sbs / gr / denoise strategies) " +
              "need a flow head (" + joined(flows) + ")");
}

}  // namespace nfp
