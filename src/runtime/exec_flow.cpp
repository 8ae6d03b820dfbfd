// The flow's passes: context precomputation, forward (data -> latent) and inverse (latent -> data), layer by
// layer exactly as src/flow applies them.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "runtime/exec.hpp"
#include "runtime/layer_kinds.hpp"
#include "runtime/rq_spline.hpp"

namespace nfp::rt {

double std_normal_log_prob(const float* z, int D) {
  double s = 0;
  for (int i = 0; i < D; ++i) s += double(z[i]) * z[i];
  return -0.5 * s - 0.5 * D * std::log(2.0 * M_PI);
}

namespace {

// The raw observation (obs_dim values: a flow's context, a policy's state vector) normalized into out; false when a
// value is not usable.
bool normalize_obs(const Model& m, const float* obs, float* out) {
  // NaN / Inf stay non-finite through normalization, so checking the normalized value checks the raw one too.
  for (int i = 0; i < m.obs_dim; ++i) {
    const float v = m.obs_mean.empty() ? obs[i] : (obs[i] - m.obs_mean[size_t(i)]) * m.obs_inv_std[size_t(i)];
    if (!usable(v)) return false;
    out[i] = v;
  }
  return true;
}

// ws.ctx (N x C) set: the pooled context and every conditioner's context part.
bool finish_context(Workspace& ws) {
  const Model& m = *ws.model;
  const int C = m.context_dim, N = m.context_tokens;
  if (!all_finite(ws.ctx.data(), size_t(N) * C)) return false;
  for (int c = 0; c < C; ++c) {
    float s = 0;
    for (int t = 0; t < N; ++t) s += ws.ctx[size_t(t) * C + c];
    ws.pooled[size_t(c)] = s / float(N);
  }
  for (size_t l = 0; l < m.layers.size(); ++l) {
    const Layer& L = m.layers[l];
    for (size_t j = 0; j < L.nets.size(); ++j) {
      float* cache = ws.ctx_cache.data() + ws.ctx_offset[2 * l + j];
      const Net& n = L.nets[j];
      if (n.transformer) transformer_context(ws, n.tf, ws.ctx.data(), N, cache);
      else mlp_context(ws, n.mlp, ws.pooled.data(), cache);
    }
  }
  return true;
}

}  // namespace

bool set_context(Workspace& ws, const float* obs) {
  const Model& m = *ws.model;
  ws.context_ready = false;
  if (m.context_dim == 0) return ws.context_ready = true;
  if (m.encoder.present) return encode_observation(ws, obs, nullptr, nullptr);
  return ws.context_ready = normalize_obs(m, obs, ws.ctx.data()) && finish_context(ws);
}

bool encode_observation(Workspace& ws, const float* state, const uint8_t* const* images, const char* instruction) {
  const Model& m = *ws.model;
  const PolicyInput& in = m.encoder.input;
  ws.context_ready = false;
  if (!normalize_obs(m, state, ws.enc_in.data())) return false;
  // The state MLP's input in PolicyImpl::encode's order: low-dim history, camera features (each camera's frames,
  // oldest first), previous action, pooled instruction.
  float* x = ws.mlp_in.data();
  std::memcpy(x, ws.enc_in.data(), size_t(in.state) * sizeof(float));
  size_t at = size_t(in.state);
  const ImageInput& cams = in.images;
  for (size_t c = 0; c < cams.cameras.size(); ++c) {
    const ImageNet& net = cams.encoders[size_t(cams.encoder_of[c])];
    camera_features(ws, c, images + c * size_t(in.history), x + at);
    at += size_t(in.history) * size_t(net.feature_dim);
  }
  std::memcpy(x + at, ws.enc_in.data() + in.state, size_t(in.prev_action) * sizeof(float));
  at += size_t(in.prev_action);
  if (in.instruction.present)
    instruction_features(ws, in.instruction, instruction, x + at, ws.ctx.data() + m.context_dim);
  mlp_forward(ws, m.encoder.net, nullptr, x, m.encoder.in, 1, ws.ctx.data(), nullptr);
  return ws.context_ready = finish_context(ws);
}

void net_forward(Workspace& ws, const Net& net, const float* cache, const float* xc, int ldx, int R, float* out,
                 MlpTape* tape) {
  if (ws.model->context_dim == 0) cache = nullptr;
  if (net.transformer) transformer_forward(ws, net.tf, cache, xc, ldx, R, out, net.P);
  else mlp_forward(ws, net.mlp, cache, xc, ldx, R, out, tape);
}

namespace {

const float* cache_of(const Workspace& ws, size_t layer, size_t net) {
  return ws.ctx_cache.data() + ws.ctx_offset[2 * layer + net];
}

}  // namespace

// Affine coupling: s = tanh(raw), t; forward y_t = x_t e^s + t, inverse x_t = (y_t - t) e^-s.
void affine_apply(Workspace& ws, size_t li, float* x, int R, double* logdet, bool inverse) {
  const Layer& L = ws.model->layers[li];
  const int D = ws.model->dim, Dc = L.cond_dim, Dt = D - Dc;
  const bool separate = L.nets.size() == 2;
  for (size_t j = 0; j < L.nets.size(); ++j)
    net_forward(ws, L.nets[j], cache_of(ws, li, j), x, D, R, ws.params[j].data(), nullptr);
  // s = tanh(raw) and e^{+-s} for the whole block in one vectorized pass (libm's tanh / exp per element
  // cost as much as the block's GEMMs at batch 128).
  const size_t n = size_t(R) * Dt;
  float* s = ws.coef_s.data();
  float* e = ws.coef_e.data();
  for (size_t i = 0; i < n; ++i) s[i] = separate ? ws.params[0][i] : ws.params[0][2 * i];
  kernels().tanh_exp(s, e, int64_t(n), inverse ? -1.0f : 1.0f);
  for (int r = 0; r < R; ++r) {
    float* xt = x + size_t(r) * D + Dc;
    const size_t o = size_t(r) * Dt;
    double sum = 0;
    for (int i = 0; i < Dt; ++i) {
      const float t = separate ? ws.params[1][o + i] : ws.params[0][(o + i) * 2 + 1];
      xt[i] = inverse ? (xt[i] - t) * e[o + i] : xt[i] * e[o + i] + t;
      sum += s[o + i];
    }
    logdet[r] += inverse ? -sum : sum;
  }
}

// The spline layer, one row at a time in four passes over its Dt elements so that every transcendental runs in
// a vectorized batch (as libm calls, one element at a time, they cost as much as the batch-1 GEMVs): the softmax
// exponentials; per element the knots, the bin and the raw derivatives at its two ends (rq_spline's arithmetic);
// their softplus (exp, then log of 1 + it; torch's threshold 20); per element the value and the two arguments of
// the log-det; their logs. rq_spline<double> is the same function element by element (and rq_spline<Dual> its
// derivatives, exec_grad.cpp).
void spline_apply(Workspace& ws, size_t li, float* x, int R, double* logdet, bool inverse) {
  const Model& m = *ws.model;
  const Layer& L = m.layers[li];
  const SplineParams& o = L.spline;
  const int D = m.dim, Dc = L.cond_dim, Dt = D - Dc, K = o.bins, P = 3 * K - 1;
  const double B = o.bound;
  net_forward(ws, L.nets[0], cache_of(ws, li, 0), x, D, R, ws.params[0].data(), nullptr);
  const Kernels& kn = kernels();
  double cw[65], ch[65];
  double* ex = ws.spline_exp.data();  // (Dt x 2K) the softmax exponentials of one row
  // (Dt each) the bin's left knot x_k, width w_k, y_k, height h_k; (2 Dt) the ends' raw derivatives, then their
  // softplus, then the log-det's numerator and denominator, then their logs; (Dt) the bin, -1 outside [-B, B].
  double* xk = ws.spline_tmp.data();
  double* wk = xk + Dt;
  double* yk = wk + Dt;
  double* hk = yk + Dt;
  double* u = hk + Dt;
  double* sp = u + 2 * size_t(Dt);
  int* bin = ws.spline_bin.data();
  for (int r = 0; r < R; ++r) {
    float* xt = x + size_t(r) * D + Dc;
    const float* pr = ws.params[0].data() + size_t(r) * Dt * P;
    for (int i = 0; i < Dt; ++i) {
      const float* p = pr + size_t(i) * P;
      for (int part = 0; part < 2; ++part) {
        const float* v = p + part * K;
        float mx = v[0];
        for (int k = 1; k < K; ++k) mx = std::max(mx, v[k]);
        for (int k = 0; k < K; ++k) ex[(size_t(i) * 2 + part) * K + k] = double(v[k]) - double(mx);
      }
    }
    kn.exp_f64(ex, ex, int64_t(Dt) * 2 * K);
    for (int i = 0; i < Dt; ++i) {
      const double xv = xt[i];
      u[2 * i] = u[2 * i + 1] = 0.0;
      if (!(xv >= -B && xv <= B)) {  // identity tails
        bin[i] = -1;
        continue;
      }
      rq_knots<double>(nullptr, K, o.min_bin_width, B, cw, ex + size_t(i) * 2 * K);
      rq_knots<double>(nullptr, K, o.min_bin_height, B, ch, ex + size_t(i) * 2 * K + K);
      const double* kx = inverse ? ch : cw;  // searchsorted(right=True) - 1, clamped to [0, K-1]
      int idx = 0;
      for (int k = 0; k <= K; ++k)
        if (kx[k] <= xv) idx = k;
      idx = std::clamp(idx, 0, K - 1);
      bin[i] = idx;
      xk[i] = cw[idx], wk[i] = cw[idx + 1] - cw[idx], yk[i] = ch[idx], hk[i] = ch[idx + 1] - ch[idx];
      const float* d = pr + size_t(i) * P + 2 * K;  // derivative j (0 < j < K) is softplus(d[j - 1])
      if (idx > 0) u[2 * i] = d[idx - 1];
      if (idx + 1 < K) u[2 * i + 1] = d[idx];
    }
    kn.exp_f64(u, sp, 2 * int64_t(Dt));
    for (int j = 0; j < 2 * Dt; ++j) sp[j] += 1.0;
    kn.log_f64(sp, sp, 2 * int64_t(Dt));
    double* lg = u;  // the raw derivatives are read for the last time below, in the same element's iteration
    for (int i = 0; i < Dt; ++i) {
      const int idx = bin[i];
      if (idx < 0) {
        lg[2 * i] = lg[2 * i + 1] = 1.0;  // log 1 = 0: the tails' log-det
        continue;
      }
      auto deriv = [&](int end, int j) {  // knot j's derivative: 1 at the ends, else min + softplus, capped
        if (j == 0 || j == K) return 1.0;
        const double v = o.min_derivative + (u[2 * i + end] > 20 ? u[2 * i + end] : sp[2 * i + end]);
        return v > 1.0 / o.min_derivative ? 1.0 / o.min_derivative : v;
      };
      const double d_k = deriv(0, idx), d_k1 = deriv(1, idx + 1);
      const double delta = hk[i] / wk[i], slope_sum = d_k + d_k1 - 2.0 * delta;
      double theta;
      if (!inverse) {
        theta = (double(xt[i]) - xk[i]) / wk[i];
        const double tt = theta * (1.0 - theta);
        xt[i] = float(yk[i] + hk[i] * (delta * theta * theta + d_k * tt) / (delta + slope_sum * tt));
      } else {
        const double dy = double(xt[i]) - yk[i];
        const double a = dy * slope_sum + hk[i] * (delta - d_k), b = hk[i] * d_k - dy * slope_sum, c = -delta * dy;
        double disc = b * b - 4.0 * a * c;
        if (disc < 0) disc = 0.0;
        theta = (2.0 * c) / (-b - std::sqrt(disc));
        xt[i] = float(theta * wk[i] + xk[i]);
      }
      const double tt = theta * (1.0 - theta), omt = 1.0 - theta;
      lg[2 * i] = delta * delta * (d_k1 * theta * theta + 2.0 * delta * tt + d_k * omt * omt);
      lg[2 * i + 1] = delta + slope_sum * tt;
    }
    kn.log_f64(lg, lg, 2 * int64_t(Dt));
    double sum = 0;
    for (int i = 0; i < Dt; ++i) sum += inverse ? -(lg[2 * i] - 2.0 * lg[2 * i + 1]) : lg[2 * i] - 2.0 * lg[2 * i + 1];
    logdet[r] += sum;
  }
}

void permutation_apply(Workspace& ws, size_t li, float* x, int R, double* logdet, bool inverse) {
  const Layer& L = ws.model->layers[li];
  const std::vector<int>& perm = inverse ? L.inverse_perm : L.perm;
  const int D = ws.model->dim;
  for (int r = 0; r < R; ++r) {
    float* xr = x + size_t(r) * D;
    float* t = ws.tmp.data();
    std::memcpy(t, xr, size_t(D) * sizeof(float));
    for (int i = 0; i < D; ++i) xr[i] = t[perm[size_t(i)]];
  }
}

void actnorm_apply(Workspace& ws, size_t li, float* x, int R, double* logdet, bool inverse) {
  const Layer& L = ws.model->layers[li];
  const int D = ws.model->dim;
  for (int r = 0; r < R; ++r) {
    float* xr = x + size_t(r) * D;
    for (int i = 0; i < D; ++i)
      xr[i] = inverse ? xr[i] * std::exp(-L.log_scale[size_t(i)]) - L.bias[size_t(i)]
                      : (xr[i] + L.bias[size_t(i)]) * std::exp(L.log_scale[size_t(i)]);
    logdet[r] += inverse ? -L.logdet : L.logdet;
  }
}

void plu_apply(Workspace& ws, size_t li, float* x, int R, double* logdet, bool inverse) {
  const Layer& L = ws.model->layers[li];
  const int D = ws.model->dim;
  kernels().gemm(x, D, R, inverse ? L.w_inv : L.w_fwd, nullptr, ws.tmp.data(), D, false);
  std::memcpy(x, ws.tmp.data(), size_t(R) * D * sizeof(float));
  for (int r = 0; r < R; ++r) logdet[r] += inverse ? -L.logdet : L.logdet;
}

void flow_forward(Workspace& ws, float* x, int R, double* logdet, float* acts) {
  const size_t n = ws.model->layers.size(), block = size_t(R) * ws.model->dim;
  for (size_t l = 0; l < n; ++l) {
    if (acts) std::memcpy(acts + l * block, x, block * sizeof(float));
    ws.model->layers[l].ops->apply(ws, l, x, R, logdet, false);
  }
  if (acts) std::memcpy(acts + n * block, x, block * sizeof(float));
}

void flow_inverse(Workspace& ws, float* x, int R, double* logdet) {
  for (size_t l = ws.model->layers.size(); l-- > 0;) ws.model->layers[l].ops->apply(ws, l, x, R, logdet, true);
}

}  // namespace nfp::rt
