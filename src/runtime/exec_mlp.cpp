// MLP conditioner, forward and backward: cat(x_cond, ctx) -> [Linear -> LayerNorm -> GELU] x depth -> Linear.
// The context columns of the first Linear are applied once per call (mlp_context) and broadcast to every row.
#include <cmath>
#include <cstring>

#include "runtime/exec.hpp"

namespace nfp::rt {

void mlp_context(Workspace& ws, const MlpNet& n, const float* pooled, float* cache) {
  matmul(ws, pooled, n.first_ctx.in, 1, n.first_ctx.fwd, nullptr, cache, n.first_ctx.out, false);
}

void mlp_forward(Workspace& ws, const MlpNet& n, const float* cache, const float* xc, int ldx, int R, float* out,
                 MlpTape* tape) {
  const Kernels& k = kernels();
  const float* in = xc;
  int ld = ldx;
  const size_t depth = n.hidden_x.size();
  for (size_t i = 0; i < depth; ++i) {
    const Linear& L = n.hidden_x[i];
    const int Hd = L.out;
    const size_t block = size_t(R) * Hd;
    float* a = tape ? tape->normed.data() + i * block : (i % 2 ? ws.h1.data() : ws.h0.data());
    matmul(ws, in, ld, R, L.fwd, L.bias.data(), a, Hd, false);
    if (i == 0 && cache)
      for (int r = 0; r < R; ++r)
        for (int j = 0; j < Hd; ++j) a[size_t(r) * Hd + j] += cache[j];
    if (tape) std::memcpy(tape->pre.data() + i * block, a, block * sizeof(float));
    k.layer_norm(a, R, Hd, Hd, n.norms[i].gamma.data(), n.norms[i].beta.data(),
                 tape ? tape->stats.data() + i * size_t(R) * 2 : nullptr);
    float* g = tape ? tape->act.data() + i * block : a;
    k.gelu(a, g, int64_t(block));
    in = g;
    ld = Hd;
  }
  matmul(ws, in, ld, R, n.out.fwd, n.out.bias.data(), out, n.out.out, false);
}

void mlp_backward(Workspace& ws, const MlpNet& n, int R, const float* dout, const MlpTape& tape, float* dxc, int lddx) {
  const Kernels& k = kernels();
  const size_t depth = n.hidden_x.size();
  const int Hd = n.out.in;
  const size_t block = size_t(R) * Hd;
  float* dg = ws.dh0.data();  // gradient w.r.t. the GELU output of layer i
  float* da = ws.dh1.data();
  k.gemm(dout, n.out.out, R, n.out.back, nullptr, dg, Hd, false);
  for (size_t i = depth; i-- > 0;) {
    const float* nrm = tape.normed.data() + i * block;  // LayerNorm output = GELU input
    const float* pre = tape.pre.data() + i * block;
    const float* st = tape.stats.data() + i * size_t(R) * 2;
    const float* gamma = n.norms[i].gamma.data();
    for (int r = 0; r < R; ++r) {
      const float mean = st[2 * r], rstd = st[2 * r + 1];
      const float* nr = nrm + size_t(r) * Hd;
      const float* pr = pre + size_t(r) * Hd;
      float* dgr = dg + size_t(r) * Hd;
      float* dar = da + size_t(r) * Hd;
      double s1 = 0, s2 = 0;
      for (int j = 0; j < Hd; ++j) {
        const double v = nr[j];
        const double cdf = 0.5 * (1.0 + std::erf(v * kInvSqrt2));
        const double pdf = std::exp(-0.5 * v * v) * 0.39894228040143267794;
        const double dxhat = double(dgr[j]) * (cdf + v * pdf) * gamma[j];  // through GELU, then the LN gain
        const double xhat = (double(pr[j]) - mean) * rstd;
        dar[j] = float(dxhat);
        s1 += dxhat;
        s2 += dxhat * xhat;
      }
      s1 /= Hd;
      s2 /= Hd;
      for (int j = 0; j < Hd; ++j) {
        const double xhat = (double(pr[j]) - mean) * rstd;
        dar[j] = float(rstd * (dar[j] - s1 - xhat * s2));
      }
    }
    const Linear& L = n.hidden_x[i];
    if (i > 0) k.gemm(da, Hd, R, L.back, nullptr, dg, Hd, false);
    else k.gemm(da, Hd, R, L.back, nullptr, dxc, lddx, true);
  }
}

}  // namespace nfp::rt
