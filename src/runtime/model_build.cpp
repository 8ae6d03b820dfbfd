// The runtime config -> Model. Walks the layers in the order FlowImpl registers them, so the weight names
// ("flow.affine2.scale_net.body.0.weight", ...) are the flow module's own.
#include <cmath>

#include "runtime/model_build.hpp"

namespace nfp::rt {
namespace {

Linear make_linear(const std::vector<float>& w, std::vector<float> b, int out, int in) {
  Linear l;
  l.in = in;
  l.out = out;
  l.fwd = pack_transposed(w.data(), out, in);
  l.back = pack_matrix(w.data(), out, in, in);
  l.bias = b.empty() ? std::vector<float>(size_t(out), 0.0f) : std::move(b);
  return l;
}

struct Builder {
  WeightSource& w;
  std::string prefix = "flow.";

  Linear linear(const std::string& name, int out, int in) {
    return make_linear(w.floats(prefix + name + ".weight", {out, in}), w.floats(prefix + name + ".bias", {out}), out, in);
  }
  LayerNorm norm(const std::string& name, int dim) {
    return {dim, w.floats(prefix + name + ".weight", {dim}), w.floats(prefix + name + ".bias", {dim})};
  }

  MlpNet mlp(const std::string& n, int Dc, int C, int hidden, int depth, int out) {
    MlpNet net;
    int in = Dc + C;
    for (int i = 0; i < depth; ++i) {
      const std::string lin = n + ".body." + std::to_string(3 * i), ln = n + ".body." + std::to_string(3 * i + 1);
      auto wt = w.floats(prefix + lin + ".weight", {hidden, in});
      auto b = w.floats(prefix + lin + ".bias", {hidden});
      if (i == 0) {  // split the columns: x_cond part (with bias), context part (computed once per call)
        std::vector<float> wx(size_t(hidden) * Dc), wc(size_t(hidden) * C);
        for (int r = 0; r < hidden; ++r) {
          for (int k = 0; k < Dc; ++k) wx[size_t(r) * Dc + k] = wt[size_t(r) * in + k];
          for (int k = 0; k < C; ++k) wc[size_t(r) * C + k] = wt[size_t(r) * in + Dc + k];
        }
        net.hidden_x.push_back(make_linear(wx, b, hidden, Dc));
        if (C > 0) net.first_ctx = make_linear(wc, {}, hidden, C);
      } else {
        net.hidden_x.push_back(make_linear(wt, b, hidden, in));
      }
      net.norms.push_back(norm(ln, hidden));
      in = hidden;
    }
    net.out = linear(n + ".out", out, in);
    return net;
  }

  // torch::nn::Sequential numbering: Linear 3i, LayerNorm 3i+1, GELU 3i+2 (no weights), final Linear 3L.
  MlpNet encoder(int in, int hidden, int layers, int out) {
    MlpNet net;
    for (int i = 0; i < layers; ++i) {
      net.hidden_x.push_back(linear(std::to_string(3 * i), hidden, in));
      net.norms.push_back(norm(std::to_string(3 * i + 1), hidden));
      in = hidden;
    }
    net.out = linear(std::to_string(3 * layers), out, in);
    return net;
  }

  Attention attention(const std::string& n, int H, int heads) {
    Attention a;
    a.heads = heads;
    a.q = linear(n + ".q", H, H);
    a.kv = linear(n + ".kv", 2 * H, H);
    a.out = linear(n + ".out", H, H);
    return a;
  }

  TransformerNet transformer(const std::string& n, int A, int Dc, int Dt, int P, int C, int groups, const JsonValue& c) {
    TransformerNet t;
    const std::string w_ = "flow.conditioner";
    t.A = A;
    t.H = int(c.get_int("hidden", 256, w_));
    const int depth = int(c.get_int("depth", 2, w_)), heads = int(c.get_int("heads", 4, w_)), H = t.H;
    if (heads < 1 || H % heads) throw LoadError("conditioner hidden must be a multiple of heads");
    t.tokens_in = Dc / A;
    t.tokens_out = Dt / A;
    t.tokens = std::max(t.tokens_in, t.tokens_out);
    t.groups = groups;
    t.input_proj = linear(n + ".input_proj", H, A);
    if (t.tokens > t.tokens_in) t.pad_tokens = w.floats(prefix + n + ".pad_tokens", {t.tokens - t.tokens_in, H});
    if (c.get_bool("positional", false, w_)) t.positional = w.floats(prefix + n + ".positional", {t.tokens, H});
    if (C > 0) t.context_proj = linear(n + ".context_proj", H, C);
    const bool ff = c.get_bool("feedforward", false, w_);
    for (int i = 0; i < depth; ++i) {
      const std::string p = n + ".block" + std::to_string(i) + "_";
      TransformerBlock b;
      b.ln_self = norm(p + "ln_self", H);
      b.self_attn = attention(p + "self_attn", H, heads);
      b.cross = C > 0;
      if (b.cross) {
        b.ln_cross = norm(p + "ln_cross", H);
        b.cross_attn = attention(p + "cross_attn", H, heads);
      }
      b.ff = ff;
      if (ff) {
        b.ln_ff = norm(p + "ln_ff", H);
        b.ff1 = linear(p + "ff.0", 4 * H, H);
        b.ff2 = linear(p + "ff.2", H, 4 * H);
      }
      t.blocks.push_back(std::move(b));
    }
    t.final_ln = norm(n + ".final_ln", H);
    for (int g = 0; g < groups; ++g) {
      t.head1.push_back(linear(n + ".head" + std::to_string(g) + ".0", 2 * H, H));
      t.head2.push_back(linear(n + ".head" + std::to_string(g) + ".3", A * P / groups, 2 * H));
    }
    return t;
  }
};

}  // namespace

void build_model(Model& m, const JsonValue& cfg, WeightSource& weights) {
  const std::string fmt = cfg.get_string("format", "", "config");
  if (fmt != "nfp-runtime") throw LoadError("config.format must be \"nfp-runtime\"");
  if (cfg.get_int("version", 0, "config") != 1)
    throw LoadError("unsupported format version " + std::to_string(cfg.get_int("version", 0, "config")) + " (this runtime reads 1)");
  m.kind = cfg.get_string("kind", "flow", "config");
  const JsonValue& f = cfg.at("flow", "config");
  const std::string w = "flow";
  m.dim = int(f.get_int("dim", 2, w));
  m.context_dim = int(f.get_int("context_dim", 0, w));
  const int tokens = int(f.get_int("tokens", 0, w));
  const std::string coupling = f.get_string("coupling", "affine", w);
  const int layers = int(f.get_int("layers", 8, w));
  JsonValue empty;
  empty.kind = JsonValue::Object;
  const JsonValue& c = f.has("conditioner") ? f.at("conditioner", w) : empty;
  const std::string ctype = c.get_string("type", "mlp", "flow.conditioner");
  const int hidden = int(c.get_int("hidden", 256, "flow.conditioner")), depth = int(c.get_int("depth", 2, "flow.conditioner"));
  const bool separate = f.get_bool("separate_nets", true, w), plu = f.get_bool("plu", false, w);
  const bool actnorm = f.get_bool("actnorm", false, w);
  const std::string permutation = f.get_string("permutation", "random", w);
  if (f.has("spline")) {
    const JsonValue& s = f.at("spline", w);
    m.spline.bins = int(s.get_int("bins", 8, "flow.spline"));
    m.spline.bound = s.get_number("bound", 3.0, "flow.spline");
    m.spline.min_bin_width = s.get_number("min_bin_width", 1e-3, "flow.spline");
    m.spline.min_bin_height = s.get_number("min_bin_height", 1e-3, "flow.spline");
    m.spline.min_derivative = s.get_number("min_derivative", 1e-3, "flow.spline");
  }
  const bool tokenized = ctype == "transformer";
  if (ctype != "mlp" && !tokenized) throw LoadError("unknown conditioner '" + ctype + "'; known: mlp, transformer");
  if (coupling != "affine" && coupling != "spline") throw LoadError("unknown coupling '" + coupling + "'; known: affine, spline");
  if (m.dim < 2 || layers < 1 || m.context_dim < 0 || hidden < 1 || depth < 1 || m.spline.bins < 2 || m.spline.bins > 64)
    throw LoadError("flow sizes out of range");
  int token_dim = 0, cond_dim = m.dim / 2;
  if (tokenized) {
    if (tokens < 2 || m.dim % tokens) throw LoadError("transformer conditioner needs tokens >= 2 dividing dim");
    token_dim = m.dim / tokens;
    cond_dim = (tokens / 2) * token_dim;
  }
  m.horizon = int(cfg.get_int("horizon", tokens > 0 ? tokens : 1, "config"));
  m.action_dim = int(cfg.get_int("action_dim", m.dim / m.horizon, "config"));
  if (m.horizon * m.action_dim != m.dim) throw LoadError("horizon x action_dim must equal flow.dim");
  m.context_tokens = int(cfg.get_int("context_tokens", 1, "config"));
  if (m.context_tokens < 1 || (m.context_tokens > 1 && m.context_dim == 0)) throw LoadError("context_tokens must be >= 1");
  m.obs_dim = m.context_tokens * m.context_dim;
  if (m.kind == "policy") {  // obs -> encoder -> context: the caller passes the encoder's input
    const JsonValue& e = cfg.at("encoder", "config");
    const int in = int(e.get_int("input_dim", 0, "encoder")), hid = int(e.get_int("hidden", 0, "encoder"));
    const int nl = int(e.get_int("layers", -1, "encoder")), out = int(e.get_int("output_dim", 0, "encoder"));
    if (in < 1 || hid < 1 || nl < 0 || nl > 64) throw LoadError("encoder sizes out of range");
    if (out != m.context_dim || m.context_tokens != 1)
      throw LoadError("encoder.output_dim must equal flow.context_dim (one context token)");
    Builder eb{weights, "encoder."};
    m.encoder.present = true;
    m.encoder.in = in;
    m.encoder.net = eb.encoder(in, hid, nl, out);
    m.obs_dim = in;
    m.action_clamp = float(cfg.get_number("action_clamp", 0.0, "config"));
    if (!(m.action_clamp >= 0)) throw LoadError("action_clamp must be >= 0");
  }
  m.sigma = float(cfg.get_number("sigma", 1.0, "config"));
  if (!(m.sigma >= 0) || !std::isfinite(m.sigma)) throw LoadError("sigma must be finite and >= 0");

  Builder b{weights};
  const int D = m.dim, C = m.context_dim, Dt = D - cond_dim;
  int idx = 0;
  for (int l = 0; l < layers; ++l) {
    if (actnorm) {
      Layer L;
      L.kind = LayerKind::ActNorm;
      L.name = "actnorm" + std::to_string(idx++);
      L.bias = weights.floats("flow." + L.name + ".bias", {D});
      L.log_scale = weights.floats("flow." + L.name + ".log_scale", {D});
      weights.touch("flow." + L.name + ".initialized");
      for (float v : L.log_scale) L.logdet += v;
      m.layers.push_back(std::move(L));
    }
    if (permutation != "none") {
      Layer L;
      L.kind = LayerKind::Permutation;
      L.name = "permutation" + std::to_string(idx++);
      L.perm = weights.indices("flow." + L.name + ".perm", D);
      L.inverse_perm = weights.indices("flow." + L.name + ".inverse_perm", D);
      for (int i = 0; i < D; ++i)
        if (L.inverse_perm[size_t(L.perm[size_t(i)])] != i) throw LoadError(L.name + ": inverse_perm is not the inverse of perm");
      m.layers.push_back(std::move(L));
    }
    {
      Layer L;
      L.kind = coupling == "affine" ? LayerKind::Affine : LayerKind::Spline;
      L.name = coupling + std::to_string(idx++);
      L.cond_dim = cond_dim;
      auto net = [&](const std::string& n, int P, int groups) {
        Net net;
        net.transformer = tokenized;
        net.cond_dim = cond_dim;
        net.trans_dim = Dt;
        net.P = P;
        if (tokenized) net.tf = b.transformer(L.name + "." + n, token_dim, cond_dim, Dt, P, C, groups, c);
        else net.mlp = b.mlp(L.name + "." + n, cond_dim, C, hidden, depth, Dt * P);
        return net;
      };
      if (coupling == "affine" && separate && !tokenized) {
        L.nets.push_back(net("scale_net", 1, 1));
        L.nets.push_back(net("shift_net", 1, 1));
      } else if (coupling == "affine") {
        L.nets.push_back(net("net", 2, 2));
      } else {
        L.nets.push_back(net("net", 3 * m.spline.bins - 1, 1));
      }
      m.layers.push_back(std::move(L));
    }
    if (plu) {
      Layer L;
      L.kind = LayerKind::PLU;
      L.name = "plu" + std::to_string(idx++);
      const std::string p = "flow." + L.name;
      auto wt = weights.floats(p + ".weight", {D, D});
      auto wi = weights.floats(p + ".inverse_weight", {D, D});
      auto log_s = weights.floats(p + ".log_s", {D});
      for (float v : log_s) L.logdet += v;
      for (const char* n : {".perm", ".sign", ".lower_mask", ".upper_mask", ".lower", ".upper"}) weights.touch(p + n);
      L.w_fwd = pack_transposed(wt.data(), D, D);
      L.w_inv = pack_transposed(wi.data(), D, D);
      L.w_back = pack_matrix(wt.data(), D, D, D);
      m.layers.push_back(std::move(L));
    }
  }
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
