// The runtime config -> Model: the file lists its layers (layers[], data -> latent order), each built by its
// kind's entry in layer_kinds.cpp; a kind without an entry is refused. Format version 1 (no layers[]; the
// runtime replayed the flow's constructor) is refused with a message to re-export: see docs/RUNTIME.md.
#include <cmath>
#include <set>

#include "runtime/layer_kinds.hpp"
#include "runtime/model_build.hpp"

namespace nfp::rt {
namespace {

constexpr int kFormatVersion = 2;

// Records the names one layer reads, so they can be checked against the tensors its entry lists.
struct LayerWeights : WeightSource {
  WeightSource& w;
  std::set<std::string> used;
  explicit LayerWeights(WeightSource& source) : w(source) {}
  std::vector<float> floats(const std::string& name, std::vector<int64_t> shape) override {
    used.insert(name);
    return w.floats(name, shape);
  }
  std::vector<int> indices(const std::string& name, int n) override {
    used.insert(name);
    return w.indices(name, n);
  }
  bool has(const std::string& name) const override { return w.has(name); }
  void touch(const std::string& name) override {
    if (w.has(name)) used.insert(name);
    w.touch(name);
  }
};

void build_layers(Model& m, const JsonValue& list, WeightSource& weights) {
  if (list.kind != JsonValue::Array || list.arr.empty()) throw LoadError("layers must be a non-empty array");
  for (size_t i = 0; i < list.arr.size(); ++i) {
    const JsonValue& e = list.arr[i];
    const std::string at = "layer " + std::to_string(i);
    const std::string kind = e.at("kind", at).string(at + " kind");
    const std::string where = at + " (" + kind + " '" + e.get_string("name", "", at) + "')";
    const LayerOps* ops = find_layer_kind(kind);
    if (!ops)
      throw LoadError(at + " has kind '" + kind + "', which this runtime does not know (it knows " + layer_kind_names() +
                      "); update the runtime or export without that transform");
    LayerWeights lw(weights);
    NetBuilder nets{lw, ""};
    const size_t first = m.layers.size();
    ops->build(LayerInput{nets, m.dim, m.context_dim, e, where}, m.layers);
    for (size_t l = first; l < m.layers.size(); ++l)
      if (!m.layers[l].ops) m.layers[l].ops = ops, m.layers[l].kind = kind;
    // The entry's tensor list and what the builder read must agree: a mismatch is a file from another version.
    std::set<std::string> listed;
    for (const auto& t : e.at("tensors", where).arr) listed.insert(t.string(where + " tensors"));
    for (const auto& n : lw.used)
      if (!listed.count(n)) throw LoadError(where + " reads the tensor '" + n + "' that its tensors[] does not list");
    for (const auto& n : listed)
      if (!lw.used.count(n)) throw LoadError(where + " lists the tensor '" + n + "' that a " + kind + " layer does not use");
  }
}

}  // namespace

void build_model(Model& m, const JsonValue& cfg, WeightSource& weights) {
  const std::string fmt = cfg.get_string("format", "", "config");
  if (fmt != "nfp-runtime") throw LoadError("config.format must be \"nfp-runtime\"");
  const long long version = cfg.get_int("version", 0, "config");
  if (version == 1 || (version == kFormatVersion && !cfg.has("layers")))
    throw LoadError("this file was written by an older nfp (runtime format 1: no layers[] list); re-export it from its "
                    "checkpoint with `nfp export --checkpoint DIR --out FILE`");
  if (version != kFormatVersion)
    throw LoadError("unsupported format version " + std::to_string(version) + " (this runtime reads " +
                    std::to_string(kFormatVersion) + ")");
  m.kind = cfg.get_string("kind", "flow", "config");
  m.dim = int(cfg.at("dim", "config").integer("config dim"));
  m.context_dim = int(cfg.get_int("context_dim", 0, "config"));
  if (m.dim < 2 || m.dim > 65536 || m.context_dim < 0 || m.context_dim > 65536) throw LoadError("flow sizes out of range");
  m.horizon = int(cfg.get_int("horizon", 1, "config"));
  if (m.horizon < 1) throw LoadError("horizon must be >= 1");
  m.action_dim = int(cfg.get_int("action_dim", m.dim / m.horizon, "config"));
  if (m.horizon * m.action_dim != m.dim) throw LoadError("horizon x action_dim must equal dim");
  m.context_tokens = int(cfg.get_int("context_tokens", 1, "config"));
  if (m.context_tokens < 1 || (m.context_tokens > 1 && m.context_dim == 0)) throw LoadError("context_tokens must be >= 1");
  m.obs_dim = m.context_tokens * m.context_dim;
  if (m.kind == "policy") {  // obs -> encoder -> context: the caller passes the encoder's input
    const JsonValue& e = cfg.at("encoder", "config");
    const int in = int(e.get_int("input_dim", 0, "encoder")), hid = int(e.get_int("hidden", 0, "encoder"));
    const int nl = int(e.get_int("layers", -1, "encoder")), out = int(e.get_int("output_dim", 0, "encoder"));
    if (in < 1 || hid < 1 || nl < 0 || nl > 64) throw LoadError("encoder sizes out of range");
    if (out != m.context_dim || m.context_tokens != 1)
      throw LoadError("encoder.output_dim must equal context_dim (one context token)");
    NetBuilder eb{weights, "encoder."};
    m.encoder.present = true;
    m.encoder.in = in;
    m.encoder.net = eb.encoder(in, hid, nl, out);
    m.obs_dim = in;
    m.action_clamp = float(cfg.get_number("action_clamp", 0.0, "config"));
    if (!(m.action_clamp >= 0)) throw LoadError("action_clamp must be >= 0");
  }
  m.sigma = float(cfg.get_number("sigma", 1.0, "config"));
  if (!(m.sigma >= 0) || !std::isfinite(m.sigma)) throw LoadError("sigma must be finite and >= 0");
  build_layers(m, cfg.at("layers", "config"), weights);
  const int D = m.dim;
  // Normalization (absent or empty = identity).
  if (cfg.has("normalization")) {
    const JsonValue& n = cfg.at("normalization", "config");
    auto vec = [&](const char* key, int size) {
      std::vector<float> v = n.has(key) ? n.at(key, "normalization").floats(std::string("normalization.") + key) : std::vector<float>{};
      if (!v.empty() && int(v.size()) != size)
        throw LoadError(std::string("normalization.") + key + " has " + std::to_string(v.size()) + " values, expected " + std::to_string(size));
      for (float x : v)
        if (!std::isfinite(x)) throw LoadError(std::string("normalization.") + key + " holds a non-finite value");
      return v;
    };
    m.obs_mean = vec("obs_mean", m.obs_dim);
    m.obs_std = vec("obs_std", m.obs_dim);
    m.action_mean = vec("action_mean", D);
    m.action_std = vec("action_std", D);
    for (float x : m.obs_std) if (!(x > 0)) throw LoadError("normalization.obs_std must be > 0");
    for (float x : m.action_std) if (!(x > 0)) throw LoadError("normalization.action_std must be > 0");
    for (float x : m.obs_std) m.obs_inv_std.push_back(float(1.0 / double(x)));
    for (float x : m.action_std) m.action_inv_std.push_back(float(1.0 / double(x)));
  }
}

}  // namespace nfp::rt
