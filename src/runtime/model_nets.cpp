// The conditioner and encoder networks from their named weights (the torch modules' own dotted names).
#include "runtime/model_build.hpp"

namespace nfp::rt {

Linear make_linear(const std::vector<float>& w, std::vector<float> b, int out, int in) {
  Linear l;
  l.in = in;
  l.out = out;
  l.fwd = pack_transposed(w.data(), out, in);
  l.back = pack_matrix(w.data(), out, in, in);
  l.bias = b.empty() ? std::vector<float>(size_t(out), 0.0f) : std::move(b);
  return l;
}

Linear NetBuilder::linear(const std::string& name, int out, int in) {
  return make_linear(w.floats(prefix + name + ".weight", {out, in}), w.floats(prefix + name + ".bias", {out}), out, in);
}

LayerNorm NetBuilder::norm(const std::string& name, int dim) {
  return {dim, w.floats(prefix + name + ".weight", {dim}), w.floats(prefix + name + ".bias", {dim})};
}

MlpNet NetBuilder::mlp(const std::string& n, int Dc, int C, int hidden, int depth, int out) {
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

MlpNet NetBuilder::encoder(int in, int hidden, int layers, int out) {
  MlpNet net;
  for (int i = 0; i < layers; ++i) {
    net.hidden_x.push_back(linear(std::to_string(3 * i), hidden, in));
    net.norms.push_back(norm(std::to_string(3 * i + 1), hidden));
    in = hidden;
  }
  net.out = linear(std::to_string(3 * layers), out, in);
  return net;
}

Attention NetBuilder::attention(const std::string& n, int H, int heads) {
  Attention a;
  a.heads = heads;
  a.q = linear(n + ".q", H, H);
  a.kv = linear(n + ".kv", 2 * H, H);
  a.out = linear(n + ".out", H, H);
  return a;
}

TransformerNet NetBuilder::transformer(const std::string& n, const ConditionerSpec& c, int Dc, int Dt, int P, int C,
                                       int groups) {
  TransformerNet t;
  const int A = c.token_dim, H = c.hidden;
  t.A = A;
  t.H = H;
  t.tokens_in = Dc / A;
  t.tokens_out = Dt / A;
  t.tokens = std::max(t.tokens_in, t.tokens_out);
  t.groups = groups;
  t.input_proj = linear(n + ".input_proj", H, A);
  if (t.tokens > t.tokens_in) t.pad_tokens = w.floats(prefix + n + ".pad_tokens", {t.tokens - t.tokens_in, H});
  if (c.positional) t.positional = w.floats(prefix + n + ".positional", {t.tokens, H});
  if (C > 0) t.context_proj = linear(n + ".context_proj", H, C);
  for (int i = 0; i < c.depth; ++i) {
    const std::string p = n + ".block" + std::to_string(i) + "_";
    TransformerBlock b;
    b.ln_self = norm(p + "ln_self", H);
    b.self_attn = attention(p + "self_attn", H, c.heads);
    b.cross = C > 0;
    if (b.cross) {
      b.ln_cross = norm(p + "ln_cross", H);
      b.cross_attn = attention(p + "cross_attn", H, c.heads);
    }
    b.ff = c.feedforward;
    if (b.ff) {
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

Net NetBuilder::net(const std::string& name, const ConditionerSpec& c, int Dc, int Dt, int P, int C, int groups) {
  Net net;
  net.transformer = c.type == "transformer";
  net.cond_dim = Dc;
  net.trans_dim = Dt;
  net.P = P;
  if (net.transformer) net.tf = transformer(name, c, Dc, Dt, P, C, groups);
  else net.mlp = mlp(name, Dc, C, c.hidden, c.depth, Dt * P);
  return net;
}

}  // namespace nfp::rt
