// NinA-Transformer conditioner, forward (mirrors src/flow/transformer_conditioner.cpp): the untouched time
// steps are tokens; pre-LN self-attention, pre-LN cross-attention to the context tokens (their K/V computed
// once per call), optional GELU feed-forward; final LayerNorm; per-group heads read the transformed steps.
#include <cmath>
#include <cstring>

#include "runtime/exec.hpp"

namespace nfp::rt {
namespace {

// Multi-head attention; the output projection is added to h (R*Nq x H), i.e. the residual is fused.
// kv: (R x Nk x 2H) per row, or (Nk x 2H) shared by all rows (the context).
void attention(Workspace& ws, const Attention& a, const float* qin, int R, int Nq, const float* kv, bool shared,
               int Nk, float* h) {
  const int H = a.q.in, d = H / a.heads;
  float* q = ws.tq.data();
  float* o = ws.to.data();
  matmul(ws, qin, H, R * Nq, a.q.fwd, a.q.bias.data(), q, H, false);
  const float scale = float(1.0 / std::sqrt(double(d)));
  float* s = ws.scores.data();
  for (int r = 0; r < R; ++r) {
    const float* kvr = shared ? kv : kv + size_t(r) * Nk * 2 * H;
    for (int hd = 0; hd < a.heads; ++hd) {
      for (int i = 0; i < Nq; ++i) {
        const float* qi = q + (size_t(r) * Nq + i) * H + hd * d;
        float mx = -INFINITY;
        for (int j = 0; j < Nk; ++j) {
          const float* kj = kvr + size_t(j) * 2 * H + hd * d;
          float dot = 0;
          for (int e = 0; e < d; ++e) dot += qi[e] * kj[e];
          s[j] = dot * scale;
          mx = std::max(mx, s[j]);
        }
        float sum = 0;
        for (int j = 0; j < Nk; ++j) sum += (s[j] = std::exp(s[j] - mx));
        const float inv = 1.0f / sum;
        float* oi = o + (size_t(r) * Nq + i) * H + hd * d;
        for (int e = 0; e < d; ++e) oi[e] = 0;
        for (int j = 0; j < Nk; ++j) {
          const float p = s[j] * inv;
          const float* vj = kvr + size_t(j) * 2 * H + H + hd * d;
          for (int e = 0; e < d; ++e) oi[e] += p * vj[e];
        }
      }
    }
  }
  matmul(ws, o, H, R * Nq, a.out.fwd, a.out.bias.data(), h, H, true);
}

void normed_copy(const float* src, float* dst, int rows, const LayerNorm& ln) {
  std::memcpy(dst, src, size_t(rows) * ln.dim * sizeof(float));
  kernels().layer_norm(dst, rows, ln.dim, ln.dim, ln.gamma.data(), ln.beta.data(), nullptr);
}

}  // namespace

size_t transformer_cache_size(const TransformerNet& t, int N) {
  if (t.context_proj.in == 0) return 0;
  return size_t(N) * t.H * (1 + 2 * t.blocks.size());
}

void transformer_context(Workspace& ws, const TransformerNet& t, const float* ctx, int N, float* cache) {
  if (t.context_proj.in == 0) return;
  const int H = t.H;
  matmul(ws, ctx, t.context_proj.in, N, t.context_proj.fwd, t.context_proj.bias.data(), cache, H, false);
  float* kv = cache + size_t(N) * H;
  for (const auto& b : t.blocks) {
    matmul(ws, cache, H, N, b.cross_attn.kv.fwd, b.cross_attn.kv.bias.data(), kv, 2 * H, false);
    kv += size_t(N) * 2 * H;
  }
}

void transformer_forward(Workspace& ws, const TransformerNet& t, const float* cache, const float* xc, int ldx, int R,
                         float* out, int P) {
  const Kernels& k = kernels();
  const int T = t.tokens, Ti = t.tokens_in, Tt = t.tokens_out, H = t.H, A = t.A, N = ws.model->context_tokens;
  float* h = ws.th.data();
  float* n = ws.tn.data();
  for (int r = 0; r < R; ++r) {
    float* hr = h + size_t(r) * T * H;
    matmul(ws, xc + size_t(r) * ldx, A, Ti, t.input_proj.fwd, t.input_proj.bias.data(), hr, H, false);
    if (T > Ti) std::memcpy(hr + size_t(Ti) * H, t.pad_tokens.data(), size_t(T - Ti) * H * sizeof(float));
    if (!t.positional.empty())
      for (size_t e = 0; e < size_t(T) * H; ++e) hr[e] += t.positional[e];
  }
  const float* kv_ctx = cache ? cache + size_t(N) * H : nullptr;
  for (const auto& b : t.blocks) {
    normed_copy(h, n, R * T, b.ln_self);
    matmul(ws, n, H, R * T, b.self_attn.kv.fwd, b.self_attn.kv.bias.data(), ws.tkv.data(), 2 * H, false);
    attention(ws, b.self_attn, n, R, T, ws.tkv.data(), false, T, h);
    if (b.cross) {
      normed_copy(h, n, R * T, b.ln_cross);
      attention(ws, b.cross_attn, n, R, T, kv_ctx, true, N, h);
      kv_ctx += size_t(N) * 2 * H;
    }
    if (b.ff) {
      normed_copy(h, n, R * T, b.ln_ff);
      matmul(ws, n, H, R * T, b.ff1.fwd, b.ff1.bias.data(), ws.tff.data(), 4 * H, false);
      k.gelu(ws.tff.data(), ws.tff.data(), int64_t(R) * T * 4 * H);
      matmul(ws, ws.tff.data(), 4 * H, R * T, b.ff2.fwd, b.ff2.bias.data(), h, H, true);
    }
  }
  // Final LayerNorm of the first Tt tokens of each row, gathered contiguous.
  float* g = ws.tq.data();
  for (int r = 0; r < R; ++r)
    std::memcpy(g + size_t(r) * Tt * H, h + size_t(r) * T * H, size_t(Tt) * H * sizeof(float));
  k.layer_norm(g, R * Tt, H, H, t.final_ln.gamma.data(), t.final_ln.beta.data(), nullptr);
  const int Pg = P / t.groups, Dt = Tt * A;
  for (int gi = 0; gi < t.groups; ++gi) {
    matmul(ws, g, H, R * Tt, t.head1[size_t(gi)].fwd, t.head1[size_t(gi)].bias.data(), ws.thead.data(), 2 * H, false);
    k.gelu(ws.thead.data(), ws.thead.data(), int64_t(R) * Tt * 2 * H);
    matmul(ws, ws.thead.data(), 2 * H, R * Tt, t.head2[size_t(gi)].fwd, t.head2[size_t(gi)].bias.data(), ws.tout.data(),
           A * Pg, false);
    // (R x Tt x A x Pg) -> out (R x Dt x P), group gi's slice of the params
    for (int r = 0; r < R; ++r)
      for (int tt = 0; tt < Tt; ++tt)
        for (int a = 0; a < A; ++a)
          for (int q = 0; q < Pg; ++q)
            out[(size_t(r) * Dt + size_t(tt) * A + a) * P + gi * Pg + q] =
                ws.tout[((size_t(r) * Tt + tt) * A + a) * Pg + q];
  }
}

}  // namespace nfp::rt
