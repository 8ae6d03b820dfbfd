// The flow's backward pass: d log p / d x for x on the data side (GR ascends it). Forward once keeping every
// layer's input, then walk the layers back, each turning d/d(output) into d/d(input) plus its log-det
// gradient. Couplings recompute their conditioner with a tape and backpropagate into the untouched half;
// splines get their partial derivatives by forward-mode duals (one direction per input).
#include <cmath>
#include <cstring>

#include "runtime/exec.hpp"
#include "runtime/layer_kinds.hpp"
#include "runtime/rq_spline.hpp"

namespace nfp::rt {

void net_backward(Workspace& ws, const Net& net, const float* cache, const float* xc, int ldx, int R,
                  const float* dout, MlpTape& tape, float* dxc, int lddx) {
  if (ws.model->context_dim == 0) cache = nullptr;
  if (net.transformer) transformer_backward(ws, net.tf, cache, xc, ldx, R, net.P, dout, dxc, lddx);
  else mlp_backward(ws, net.mlp, R, dout, tape, dxc, lddx);
}

void affine_backward(Workspace& ws, size_t li, const float* x, float* g, int R) {
  const Layer& L = ws.model->layers[li];
  const int D = ws.model->dim, Dc = L.cond_dim, Dt = D - Dc;
  const bool separate = L.nets.size() == 2;
  for (size_t j = 0; j < L.nets.size(); ++j)
    net_forward(ws, L.nets[j], ws.ctx_cache.data() + ws.ctx_offset[2 * li + j], x, D, R, ws.params[j].data(),
                &ws.tape[j]);
  for (int r = 0; r < R; ++r) {
    for (int i = 0; i < Dt; ++i) {
      const size_t e = size_t(r) * Dt + i;
      const float raw = separate ? ws.params[0][e] : ws.params[0][2 * e];
      const float s = std::tanh(raw), es = std::exp(s), xt = x[size_t(r) * D + Dc + i];
      float& gy = g[size_t(r) * D + Dc + i];
      const float draw = (gy * xt * es + 1.0f) * (1.0f - s * s);  // + 1: d(logdet)/ds
      if (separate) {
        ws.dparams[0][e] = draw;
        ws.dparams[1][e] = gy;
      } else {
        ws.dparams[0][2 * e] = draw;
        ws.dparams[0][2 * e + 1] = gy;
      }
      gy *= es;
    }
  }
  for (size_t j = 0; j < L.nets.size(); ++j)
    net_backward(ws, L.nets[j], ws.ctx_cache.data() + ws.ctx_offset[2 * li + j], x, D, R, ws.dparams[j].data(),
                 ws.tape[j], g, D);
}

void spline_backward(Workspace& ws, size_t li, const float* x, float* g, int R) {
  const Model& m = *ws.model;
  const Layer& L = m.layers[li];
  const int D = m.dim, Dc = L.cond_dim, Dt = D - Dc, K = L.spline.bins, P = 3 * K - 1;
  net_forward(ws, L.nets[0], ws.ctx_cache.data() + ws.ctx_offset[2 * li], x, D, R, ws.params[0].data(), &ws.tape[0]);
  Dual w[64], h[64], d[64];
  for (int r = 0; r < R; ++r) {
    for (int i = 0; i < Dt; ++i) {
      const size_t e = size_t(r) * Dt + i;
      const float* p = ws.params[0].data() + e * P;
      float* dp = ws.dparams[0].data() + e * P;
      float& gy = g[size_t(r) * D + Dc + i];
      const double xv = x[size_t(r) * D + Dc + i];
      double gx = 0;
      for (int dir = -1; dir < P; ++dir) {  // -1: d/dx, else d/dparams[dir]
        for (int k = 0; k < K; ++k) w[k] = Dual(p[k], dir == k), h[k] = Dual(p[K + k], dir == K + k);
        for (int k = 0; k < K - 1; ++k) d[k] = Dual(p[2 * K + k], dir == 2 * K + k);
        Dual y, ld;
        rq_spline<Dual>(Dual(xv, dir == -1), w, h, d, L.spline, false, y, ld);
        const double v = double(gy) * y.d + ld.d;
        if (dir < 0) gx = v;
        else dp[dir] = float(v);
      }
      gy = float(gx);
    }
  }
  net_backward(ws, L.nets[0], ws.ctx_cache.data() + ws.ctx_offset[2 * li], x, D, R, ws.dparams[0].data(), ws.tape[0],
               g, D);
}

void actnorm_backward(Workspace& ws, size_t li, const float* x, float* g, int R) {
  const Layer& L = ws.model->layers[li];
  const int D = ws.model->dim;
  for (int r = 0; r < R; ++r)
    for (int i = 0; i < D; ++i) g[size_t(r) * D + i] *= std::exp(L.log_scale[size_t(i)]);
}

void permutation_backward(Workspace& ws, size_t li, const float* x, float* g, int R) {  // y[i] = x[perm[i]]
  const Layer& L = ws.model->layers[li];
  const int D = ws.model->dim;
  for (int r = 0; r < R; ++r) {
    float* gr = g + size_t(r) * D;
    std::memcpy(ws.grad_tmp.data(), gr, size_t(D) * sizeof(float));
    for (int i = 0; i < D; ++i) gr[L.perm[size_t(i)]] = ws.grad_tmp[size_t(i)];
  }
}

void plu_backward(Workspace& ws, size_t li, const float* x, float* g, int R) {  // z = x W^T: dx = dz W
  const Layer& L = ws.model->layers[li];
  const int D = ws.model->dim;
  kernels().gemm(g, D, R, L.w_back, nullptr, ws.grad_tmp.data(), D, false);
  std::memcpy(g, ws.grad_tmp.data(), size_t(R) * D * sizeof(float));
}

void flow_log_prob_grad(Workspace& ws, const float* x, int R, float* grad, double* logp) {
  const Model& m = *ws.model;
  const int D = m.dim;
  const size_t n = m.layers.size(), block = size_t(R) * D;
  float* z = ws.z.data();
  std::memcpy(z, x, block * sizeof(float));
  for (int r = 0; r < R; ++r) logp[r] = 0;
  flow_forward(ws, z, R, logp, ws.acts.data());
  for (int r = 0; r < R; ++r) logp[r] += std_normal_log_prob(z + size_t(r) * D, D);
  for (size_t i = 0; i < block; ++i) grad[i] = -z[i];  // d log N(z) / dz
  for (size_t l = n; l-- > 0;) {
    m.layers[l].ops->backward(ws, l, ws.acts.data() + l * block, grad, R);
  }
}

}  // namespace nfp::rt
