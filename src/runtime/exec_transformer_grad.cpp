// NinA-Transformer conditioner, backward with respect to its input tokens (the untouched half of the chunk),
// for GR and log-prob gradients. Per row: the forward pass is recomputed keeping every sub-layer's input,
// LayerNorm output, queries, keys/values, attention probabilities and feed-forward pre-activations (the tape,
// sized once in the workspace), then walked back. The context's K/V are constants (no gradient flows into the
// observation), so cross-attention only passes gradient to its queries.
#include <cmath>
#include <cstring>

#include "runtime/exec.hpp"

namespace nfp::rt {
namespace {

int heads_of(const TransformerNet& t) { return t.blocks.empty() ? 1 : t.blocks[0].self_attn.heads; }

// Pointers into ws.tf_tape for one row (layout: per block, then final, then backward scratch).
struct Tape {
  struct Block {
    float *hs, *ns, *qs, *kvs, *ps, *hc, *nc, *qc, *pc, *hf, *nf, *fpre;
  };
  float *h, *o, *tmp, *g, *dh, *dn, *dq, *dkv, *dout, *dg, *dhead, *dtout;
};

size_t block_floats(const TransformerNet& t, int N) {
  const size_t T = size_t(t.tokens), H = size_t(t.H), nh = size_t(heads_of(t));
  return 14 * T * H + nh * T * (T + size_t(N));
}

Tape::Block block_at(float* base, const TransformerNet& t, int N, size_t i) {
  const size_t T = size_t(t.tokens), H = size_t(t.H), nh = size_t(heads_of(t)), TH = T * H;
  float* p = base + i * block_floats(t, N);
  Tape::Block b;
  b.hs = p, p += TH;
  b.ns = p, p += TH;
  b.qs = p, p += TH;
  b.kvs = p, p += 2 * TH;
  b.ps = p, p += nh * T * T;
  b.hc = p, p += TH;
  b.nc = p, p += TH;
  b.qc = p, p += TH;
  b.pc = p, p += nh * T * size_t(N);
  b.hf = p, p += TH;
  b.nf = p, p += TH;
  b.fpre = p;  // 4 TH
  return b;
}

Tape scratch_at(float* base, const TransformerNet& t, int N) {
  const size_t TH = size_t(t.tokens) * t.H;
  float* p = base + t.blocks.size() * block_floats(t, N);
  Tape s;
  s.h = p, p += TH;
  s.o = p, p += TH;
  s.tmp = p, p += 4 * TH;
  s.g = p, p += TH;
  s.dh = p, p += TH;
  s.dn = p, p += TH;
  s.dq = p, p += TH;
  s.dkv = p, p += 2 * TH;
  s.dout = p, p += TH;
  s.dg = p, p += TH;
  s.dhead = p, p += 4 * TH;
  s.dtout = p;  // Tt x A P <= T x 2H rounded up: see transformer_tape_size
  return s;
}

// Softmax attention of one row, probabilities kept: q (Nq x H), kv (Nk x 2H: K then V) -> o (Nq x H).
void attend(const float* q, const float* kv, int Nq, int Nk, int H, int heads, float* probs, float* o) {
  const int d = H / heads;
  const float scale = float(1.0 / std::sqrt(double(d)));
  for (int hd = 0; hd < heads; ++hd)
    for (int i = 0; i < Nq; ++i) {
      const float* qi = q + size_t(i) * H + hd * d;
      float* p = probs + (size_t(hd) * Nq + i) * Nk;
      float mx = -INFINITY;
      for (int j = 0; j < Nk; ++j) {
        const float* kj = kv + size_t(j) * 2 * H + hd * d;
        float dot = 0;
        for (int e = 0; e < d; ++e) dot += qi[e] * kj[e];
        p[j] = dot * scale;
        mx = std::max(mx, p[j]);
      }
      float sum = 0;
      for (int j = 0; j < Nk; ++j) sum += (p[j] = std::exp(p[j] - mx));
      const float inv = 1.0f / sum;
      float* oi = o + size_t(i) * H + hd * d;
      for (int e = 0; e < d; ++e) oi[e] = 0;
      for (int j = 0; j < Nk; ++j) {
        p[j] *= inv;
        const float* vj = kv + size_t(j) * 2 * H + H + hd * d;
        for (int e = 0; e < d; ++e) oi[e] += p[j] * vj[e];
      }
    }
}

// dq (Nq x H) = d/dq; dkv (Nk x 2H) += d/dK, d/dV unless null (constant keys: the context).
void attend_backward(const float* q, const float* kv, const float* probs, const float* dO, int Nq, int Nk, int H,
                     int heads, float* dq, float* dkv) {
  const int d = H / heads;
  const float scale = float(1.0 / std::sqrt(double(d)));
  std::memset(dq, 0, size_t(Nq) * H * sizeof(float));
  for (int hd = 0; hd < heads; ++hd)
    for (int i = 0; i < Nq; ++i) {
      const float* p = probs + (size_t(hd) * Nq + i) * Nk;
      const float* doi = dO + size_t(i) * H + hd * d;
      const float* qi = q + size_t(i) * H + hd * d;
      float* dqi = dq + size_t(i) * H + hd * d;
      double dot_sum = 0;
      for (int j = 0; j < Nk; ++j) {
        const float* vj = kv + size_t(j) * 2 * H + H + hd * d;
        double dp = 0;
        for (int e = 0; e < d; ++e) dp += double(doi[e]) * vj[e];
        dot_sum += p[j] * dp;
      }
      for (int j = 0; j < Nk; ++j) {
        const float* kj = kv + size_t(j) * 2 * H + hd * d;
        const float* vj = kj + H;
        double dp = 0;
        for (int e = 0; e < d; ++e) dp += double(doi[e]) * vj[e];
        const float ds = float(p[j] * (dp - dot_sum)) * scale;
        for (int e = 0; e < d; ++e) dqi[e] += ds * kj[e];
        if (dkv) {
          float* dkj = dkv + size_t(j) * 2 * H + hd * d;
          float* dvj = dkj + H;
          for (int e = 0; e < d; ++e) dkj[e] += ds * qi[e], dvj[e] += p[j] * doi[e];
        }
      }
    }
}

// dx += LayerNorm'(x)^T dy, rows of H (x: the LayerNorm input; eps 1e-5 as the forward kernel).
void ln_backward(const float* x, int rows, int H, const float* gamma, const float* dy, float* dx) {
  for (int r = 0; r < rows; ++r) {
    const float* xr = x + size_t(r) * H;
    const float* dyr = dy + size_t(r) * H;
    float* dxr = dx + size_t(r) * H;
    double mean = 0, var = 0;
    for (int j = 0; j < H; ++j) mean += xr[j];
    mean /= H;
    for (int j = 0; j < H; ++j) var += (xr[j] - mean) * (xr[j] - mean);
    const double rstd = 1.0 / std::sqrt(var / H + 1e-5);
    double s1 = 0, s2 = 0;
    for (int j = 0; j < H; ++j) {
      const double g = double(dyr[j]) * gamma[j];
      s1 += g;
      s2 += g * (xr[j] - mean) * rstd;
    }
    s1 /= H;
    s2 /= H;
    for (int j = 0; j < H; ++j)
      dxr[j] += float(rstd * (double(dyr[j]) * gamma[j] - s1 - (xr[j] - mean) * rstd * s2));
  }
}

// y *= gelu'(pre), n values.
void gelu_backward(const float* pre, float* y, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    const double v = pre[i];
    y[i] = float(y[i] * (0.5 * (1.0 + std::erf(v * kInvSqrt2)) + v * std::exp(-0.5 * v * v) * 0.39894228040143267794));
  }
}

void normed_copy(const float* src, float* dst, int rows, const LayerNorm& ln) {
  std::memcpy(dst, src, size_t(rows) * ln.dim * sizeof(float));
  kernels().layer_norm(dst, rows, ln.dim, ln.dim, ln.gamma.data(), ln.beta.data(), nullptr);
}

}  // namespace

size_t transformer_tape_size(const TransformerNet& t, int N) {
  const size_t TH = size_t(t.tokens) * t.H;
  const size_t tout = size_t(t.tokens_out) * t.A * 3 * 64;  // Tt x A x P (P <= 3 bins - 1, bins <= 64)
  return t.blocks.size() * block_floats(t, N) + 18 * TH + tout;
}

void transformer_backward(Workspace& ws, const TransformerNet& t, const float* cache, const float* xc, int ldx, int R,
                          int P, const float* dout, float* dxc, int lddx) {
  const Kernels& k = kernels();
  const int T = t.tokens, Ti = t.tokens_in, Tt = t.tokens_out, H = t.H, A = t.A, N = ws.model->context_tokens;
  const int nh = heads_of(t), Dt = Tt * A, Pg = P / t.groups;
  const size_t TH = size_t(T) * H;
  float* base = ws.tf_tape.data();
  Tape s = scratch_at(base, t, N);
  const float* kv_ctx0 = cache ? cache + size_t(N) * H : nullptr;
  for (int r = 0; r < R; ++r) {
    // Forward, taped.
    float* h = s.h;
    matmul(ws, xc + size_t(r) * ldx, A, Ti, t.input_proj.fwd, t.input_proj.bias.data(), h, H, false);
    if (T > Ti) std::memcpy(h + size_t(Ti) * H, t.pad_tokens.data(), size_t(T - Ti) * H * sizeof(float));
    if (!t.positional.empty())
      for (size_t e = 0; e < TH; ++e) h[e] += t.positional[e];
    for (size_t i = 0; i < t.blocks.size(); ++i) {
      const TransformerBlock& b = t.blocks[i];
      Tape::Block tb = block_at(base, t, N, i);
      std::memcpy(tb.hs, h, TH * sizeof(float));
      normed_copy(h, tb.ns, T, b.ln_self);
      matmul(ws, tb.ns, H, T, b.self_attn.q.fwd, b.self_attn.q.bias.data(), tb.qs, H, false);
      matmul(ws, tb.ns, H, T, b.self_attn.kv.fwd, b.self_attn.kv.bias.data(), tb.kvs, 2 * H, false);
      attend(tb.qs, tb.kvs, T, T, H, nh, tb.ps, s.o);
      matmul(ws, s.o, H, T, b.self_attn.out.fwd, b.self_attn.out.bias.data(), h, H, true);
      if (b.cross) {
        std::memcpy(tb.hc, h, TH * sizeof(float));
        normed_copy(h, tb.nc, T, b.ln_cross);
        matmul(ws, tb.nc, H, T, b.cross_attn.q.fwd, b.cross_attn.q.bias.data(), tb.qc, H, false);
        attend(tb.qc, kv_ctx0 + i * size_t(N) * 2 * H, T, N, H, nh, tb.pc, s.o);
        matmul(ws, s.o, H, T, b.cross_attn.out.fwd, b.cross_attn.out.bias.data(), h, H, true);
      }
      if (b.ff) {
        std::memcpy(tb.hf, h, TH * sizeof(float));
        normed_copy(h, tb.nf, T, b.ln_ff);
        matmul(ws, tb.nf, H, T, b.ff1.fwd, b.ff1.bias.data(), tb.fpre, 4 * H, false);
        k.gelu(tb.fpre, s.tmp, int64_t(4 * TH));
        matmul(ws, s.tmp, 4 * H, T, b.ff2.fwd, b.ff2.bias.data(), h, H, true);
      }
    }
    normed_copy(h, s.g, Tt, t.final_ln);  // h keeps the final LayerNorm's input

    // Backward: the output heads, per group.
    const float* dr = dout + size_t(r) * Dt * P;
    std::memset(s.dg, 0, size_t(Tt) * H * sizeof(float));
    for (int gi = 0; gi < t.groups; ++gi) {
      for (int tt = 0; tt < Tt; ++tt)
        for (int a = 0; a < A; ++a)
          for (int q = 0; q < Pg; ++q)
            s.dtout[(size_t(tt) * A + a) * Pg + q] = dr[(size_t(tt) * A + a) * P + gi * Pg + q];
      matmul(ws, s.g, H, Tt, t.head1[size_t(gi)].fwd, t.head1[size_t(gi)].bias.data(), s.tmp, 2 * H, false);
      k.gemm(s.dtout, A * Pg, Tt, t.head2[size_t(gi)].back, nullptr, s.dhead, 2 * H, false);
      gelu_backward(s.tmp, s.dhead, size_t(Tt) * 2 * H);
      k.gemm(s.dhead, 2 * H, Tt, t.head1[size_t(gi)].back, nullptr, s.dg, H, true);
    }
    std::memset(s.dh, 0, TH * sizeof(float));
    ln_backward(h, Tt, H, t.final_ln.gamma.data(), s.dg, s.dh);
    // The blocks, last first; dh is the gradient of the residual stream.
    for (size_t i = t.blocks.size(); i-- > 0;) {
      const TransformerBlock& b = t.blocks[i];
      Tape::Block tb = block_at(base, t, N, i);
      if (b.ff) {
        k.gemm(s.dh, H, T, b.ff2.back, nullptr, s.tmp, 4 * H, false);
        gelu_backward(tb.fpre, s.tmp, 4 * TH);
        k.gemm(s.tmp, 4 * H, T, b.ff1.back, nullptr, s.dn, H, false);
        ln_backward(tb.hf, T, H, b.ln_ff.gamma.data(), s.dn, s.dh);
      }
      if (b.cross) {
        k.gemm(s.dh, H, T, b.cross_attn.out.back, nullptr, s.dout, H, false);
        attend_backward(tb.qc, kv_ctx0 + i * size_t(N) * 2 * H, tb.pc, s.dout, T, N, H, nh, s.dq, nullptr);
        k.gemm(s.dq, H, T, b.cross_attn.q.back, nullptr, s.dn, H, false);
        ln_backward(tb.hc, T, H, b.ln_cross.gamma.data(), s.dn, s.dh);
      }
      k.gemm(s.dh, H, T, b.self_attn.out.back, nullptr, s.dout, H, false);
      std::memset(s.dkv, 0, 2 * TH * sizeof(float));
      attend_backward(tb.qs, tb.kvs, tb.ps, s.dout, T, T, H, nh, s.dq, s.dkv);
      k.gemm(s.dq, H, T, b.self_attn.q.back, nullptr, s.dn, H, false);
      k.gemm(s.dkv, 2 * H, T, b.self_attn.kv.back, nullptr, s.dn, H, true);
      ln_backward(tb.hs, T, H, b.ln_self.gamma.data(), s.dn, s.dh);
    }
    // Into the input tokens (pad tokens and positions are constants).
    k.gemm(s.dh, H, Ti, t.input_proj.back, nullptr, dxc + size_t(r) * lddx, A, true);
  }
}

}  // namespace nfp::rt
