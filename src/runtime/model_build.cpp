// The runtime config -> Model: the file lists its layers (layers[], data -> latent order), each built by its
// kind's entry in layer_kinds.cpp; a kind without an entry is refused. Format version 1 (no layers[]; the
// runtime replayed the flow's constructor) is refused with a message to re-export: see docs/RUNTIME.md.
#include <cmath>
#include <set>

#include "runtime/layer_kinds.hpp"
#include "runtime/model_build.hpp"

namespace nfp::rt {
namespace {

constexpr int kFormatVersion = 3;  // 3: __metadata__.nfp_checksum (model_load.cpp)

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
    const std::string where =
        at + " (" + clip_for_message(kind) + " '" + clip_for_message(e.get_string("name", "", at)) + "')";
    const LayerOps* ops = find_layer_kind(kind);
    if (!ops)
      throw LoadError(at + " has kind '" + clip_for_message(kind) + "', which this runtime does not know (it knows " + layer_kind_names() +
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

// A policy: state vector (+ camera images, instruction: model_encoders.cpp) -> the state MLP -> the context; the
// caller passes the state vector (low-dim history + previous action). The "policy" section is the observation
// contract a control loop reads (examples/control_loop.cpp): checked here against the encoder so a loop that trusts
// it cannot write past the observation (torch side: PolicyImpl's constructor checks).
void build_policy_input(Model& m, const JsonValue& cfg, WeightSource& weights) {
  const std::string we = "config.encoder";
  const JsonValue& e = cfg.at("encoder", "config");
  e.check_keys({"input_dim", "hidden", "layers", "output_dim", "state_dim", "prev_action_dim", "history", "images",
                "instruction"},
               we);
  const int in = e.at("input_dim", we).int_in(1, 1 << 20, we + ".input_dim");
  const int hid = e.at("hidden", we).int_in(1, 65536, we + ".hidden");
  const int nl = e.at("layers", we).int_in(0, 64, we + ".layers");
  const int out = e.at("output_dim", we).int_in(1, 65536, we + ".output_dim");
  const int state = e.get_int_in("state_dim", in, 0, 1 << 20, we);  // absent (older files): the whole input
  const int history = e.get_int_in("history", 1, 1, 1024, we);
  if (out != m.context_dim) throw LoadError(we + ".output_dim must equal context_dim");
  NetBuilder eb{weights, "encoder."};
  m.encoder.present = true;
  m.encoder.in = in;
  m.encoder.net = eb.encoder(in, hid, nl, out);
  const int width = read_policy_input(m.encoder.input, e, state, history, m.action_dim, m.context_dim, weights);
  if (width != in)
    throw LoadError(we + ": the state (" + std::to_string(state) + "), camera features and instruction make " +
                    std::to_string(width) + " inputs, but input_dim is " + std::to_string(in));
  const InstructionNet& words = m.encoder.input.instruction;
  const int tokens = 1 + (words.tokens ? words.max_tokens : 0);
  if (m.context_tokens != tokens)
    throw LoadError("config.context_tokens must be " + std::to_string(tokens) +
                    " (the encoded observation" + (words.tokens ? ", then the instruction's max_tokens words)" : ")"));
  m.obs_dim = state;
  m.action_clamp = float(cfg.get_number("action_clamp", 0.0, "config"));
  if (!(m.action_clamp >= 0) || !std::isfinite(m.action_clamp)) throw LoadError("config.action_clamp must be finite and >= 0");
  if (!cfg.has("policy")) return;
  const std::string w = "config.policy";
  const JsonValue& p = cfg.at("policy", "config");
  p.check_keys({"type", "obs_keys", "obs_dims", "history", "stride", "prev_action", "n_action_steps", "task", "inference",
                "cameras", "instruction"},
               w);
  const JsonValue& keys = p.at("obs_keys", w);
  const JsonValue& dims = p.at("obs_dims", w);
  if (keys.kind != JsonValue::Array || dims.kind != JsonValue::Array || keys.arr.size() != dims.arr.size() ||
      (keys.arr.empty() && !m.encoder.input.images.present()))
    throw LoadError(w + ": obs_keys and obs_dims must be arrays of the same length (non-empty without cameras)");
  const int ph = p.at("history", w).int_in(1, 1024, w + ".history");
  if (e.has("history") && ph != history) throw LoadError(w + ".history and config.encoder.history disagree");
  p.at("stride", w).int_in(1, 1024, w + ".stride");
  p.at("n_action_steps", w).int_in(1, m.horizon, w + ".n_action_steps");
  int64_t total = p.at("prev_action", w).boolean(w + ".prev_action") ? m.action_dim : 0;
  for (size_t i = 0; i < keys.arr.size(); ++i) {
    keys.arr[i].string(w + ".obs_keys[" + std::to_string(i) + "]");
    total += int64_t(ph) * dims.arr[i].int_in(1, 1 << 20, w + ".obs_dims[" + std::to_string(i) + "]");
  }
  if (total != state)
    throw LoadError(w + ": obs_dims x history (+ the previous action) make " + std::to_string(total) +
                    " values, but the encoder's state input is " + std::to_string(state));
}

// The likelihood monitor's band (nfp monitor calibrate, exported with the policy).
void read_monitor(Model& m, const JsonValue& j) {
  const std::string w = "config.monitor";
  j.check_keys({"score", "alpha", "mean", "scale", "quantile"}, w);
  if (j.at("score", w).string(w + ".score") != "neg_logp") throw LoadError(w + ".score must be neg_logp");
  m.monitor_alpha = j.at("alpha", w).number(w + ".alpha");
  for (float v : j.at("mean", w).floats(w + ".mean")) m.monitor_mean.push_back(v);
  for (float v : j.at("scale", w).floats(w + ".scale")) m.monitor_scale.push_back(v);
  const JsonValue& q = j.at("quantile", w);
  m.monitor_quantile = q.kind == JsonValue::Null ? INFINITY : q.number(w + ".quantile");  // null: too few successes
  if (m.monitor_mean.empty() || m.monitor_mean.size() != m.monitor_scale.size() || m.monitor_mean.size() > 100000)
    throw LoadError(w + ": mean and scale must be non-empty and of equal length");
  for (size_t i = 0; i < m.monitor_mean.size(); ++i)
    if (!std::isfinite(m.monitor_mean[i]) || !(m.monitor_scale[i] > 0) || !std::isfinite(m.monitor_scale[i]))
      throw LoadError(w + ": mean must be finite and scale > 0");
  if (std::isnan(m.monitor_quantile) || !(m.monitor_alpha > 0 && m.monitor_alpha < 1))
    throw LoadError(w + ": quantile must be a number (or null) and alpha in (0, 1)");
  m.monitor = true;
}

// Normalization (absent or empty = identity): every value finite, every std > 0.
void read_normalization(Model& m, const JsonValue& n) {
  n.check_keys({"obs_mean", "obs_std", "action_mean", "action_std"}, "config.normalization");
  auto vec = [&](const char* key, int size) {
    const std::string w = std::string("config.normalization.") + key;
    std::vector<float> v = n.has(key) ? n.at(key, w).floats(w) : std::vector<float>{};
    if (!v.empty() && int64_t(v.size()) != size)
      throw LoadError(w + " has " + std::to_string(v.size()) + " values, expected " + std::to_string(size));
    for (float x : v)
      if (!std::isfinite(x)) throw LoadError(w + " holds a non-finite value (or one beyond float range)");
    return v;
  };
  m.obs_mean = vec("obs_mean", m.obs_dim);
  m.obs_std = vec("obs_std", m.obs_dim);
  m.action_mean = vec("action_mean", m.dim);
  m.action_std = vec("action_std", m.dim);
  if (m.obs_mean.empty() != m.obs_std.empty() || m.action_mean.empty() != m.action_std.empty())
    throw LoadError("config.normalization: a mean needs its std (and a std its mean)");
  for (float x : m.obs_std)
    if (!(x > 0) || !std::isfinite(1.0f / x)) throw LoadError("config.normalization.obs_std must be > 0 (and invertible in float)");
  for (float x : m.action_std)
    if (!(x > 0) || !std::isfinite(1.0f / x)) throw LoadError("config.normalization.action_std must be > 0 (and invertible in float)");
  for (float x : m.obs_std) m.obs_inv_std.push_back(float(1.0 / double(x)));
  for (float x : m.action_std) m.action_inv_std.push_back(float(1.0 / double(x)));
}

}  // namespace

void check_format(const JsonValue& cfg) {
  if (cfg.kind != JsonValue::Object) throw LoadError("the config is not a JSON object");
  const std::string fmt = cfg.get_string("format", "", "config");
  if (fmt != "nfp-runtime") throw LoadError("config.format must be \"nfp-runtime\"");
  const long long version = cfg.get_int("version", 0, "config");
  if (version == 1 || (version == 2 && !cfg.has("layers")))
    throw LoadError("this file was written by an older nfp (runtime format 1: no layers[] list); re-export it from its "
                    "checkpoint with `nfp export --checkpoint DIR --out FILE`");
  if (version == 2)
    throw LoadError("this file was written by an older nfp (runtime format 2: no checksum, its integrity cannot be "
                    "verified); re-export it from its checkpoint with `nfp export --checkpoint DIR --out FILE`");
  if (version != kFormatVersion)
    throw LoadError("unsupported format version " + std::to_string(version) + " (this runtime reads " +
                    std::to_string(kFormatVersion) + "; a newer nfp wrote it? update the runtime)");
}

void build_model(Model& m, const JsonValue& cfg, WeightSource& weights) {
  check_format(cfg);
  // Every key is one the runtime reads, or provenance it knows to skip ("flow", a policy's "policy"): a
  // misspelled key must not fall back to a default (a misspelled normalization would make it the identity).
  cfg.check_keys({"format", "version", "kind", "dim", "context_dim", "horizon", "action_dim", "context_tokens",
                  "normalization", "layers", "flow", "encoder", "action_clamp", "sigma", "policy", "monitor"},
                 "config");
  m.kind = cfg.get_string("kind", "flow", "config");
  if (m.kind != "flow" && m.kind != "density" && m.kind != "policy")
    throw LoadError("config.kind must be flow, density or policy, not '" + clip_for_message(m.kind) + "'");
  // Sizes are checked before any arithmetic (a horizon of 0 or 2^32 must be an error, not a division by zero or
  // a wrapped int). The bounds keep every product below in int: D, C <= 65536, N x C <= 2^24.
  m.dim = cfg.at("dim", "config").int_in(2, 65536, "config.dim");
  m.context_dim = cfg.get_int_in("context_dim", 0, 0, 65536, "config");
  m.horizon = cfg.get_int_in("horizon", 1, 1, m.dim, "config");
  if (m.dim % m.horizon) throw LoadError("config.horizon (" + std::to_string(m.horizon) + ") must divide dim (" +
                                         std::to_string(m.dim) + ")");
  m.action_dim = cfg.get_int_in("action_dim", m.dim / m.horizon, 1, m.dim, "config");
  if (m.horizon * m.action_dim != m.dim) throw LoadError("config: horizon x action_dim must equal dim");
  m.context_tokens = cfg.get_int_in("context_tokens", 1, 1, 4096, "config");
  if (m.context_tokens > 1 && m.context_dim == 0) throw LoadError("config.context_tokens must be 1 for an unconditional flow");
  if (int64_t(m.context_tokens) * m.context_dim > (int64_t(1) << 24)) throw LoadError("config: context_tokens x context_dim is too large");
  m.obs_dim = m.context_tokens * m.context_dim;
  if (m.kind == "policy") build_policy_input(m, cfg, weights);
  else if (cfg.has("encoder") || cfg.has("policy") || cfg.has("action_clamp"))
    throw LoadError("config: encoder / policy / action_clamp belong to kind \"policy\", not \"" + m.kind + "\"");
  if (cfg.has("monitor")) {
    if (m.kind != "policy") throw LoadError("config.monitor belongs to kind \"policy\"");
    read_monitor(m, cfg.at("monitor", "config"));
  }
  m.sigma = float(cfg.get_number("sigma", 1.0, "config"));
  if (!(m.sigma >= 0) || !std::isfinite(m.sigma)) throw LoadError("config.sigma must be finite and >= 0");
  build_layers(m, cfg.at("layers", "config"), weights);
  if (cfg.has("normalization")) read_normalization(m, cfg.at("normalization", "config"));
}

}  // namespace nfp::rt
