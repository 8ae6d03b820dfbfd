// Rational-quadratic spline, one element (mirrors src/flow/rq_spline.cpp; Durkan et al. 2019). Templated on
// the scalar so the same code gives values (double) and directional derivatives (Dual, for the backward
// pass). No allocation: knots live on the stack (bins <= 64).
#pragma once
#include <algorithm>
#include <cmath>

#include "runtime/model.hpp"

namespace nfp::rt {

// A forward-mode dual number: value and one directional derivative.
struct Dual {
  double v = 0, d = 0;
  Dual() = default;
  Dual(double value, double deriv = 0) : v(value), d(deriv) {}
};
inline Dual operator+(Dual a, Dual b) { return {a.v + b.v, a.d + b.d}; }
inline Dual operator-(Dual a, Dual b) { return {a.v - b.v, a.d - b.d}; }
inline Dual operator-(Dual a) { return {-a.v, -a.d}; }
inline Dual operator*(Dual a, Dual b) { return {a.v * b.v, a.d * b.v + a.v * b.d}; }
inline Dual operator/(Dual a, Dual b) { return {a.v / b.v, (a.d * b.v - a.v * b.d) / (b.v * b.v)}; }
inline Dual exp(Dual a) { const double e = std::exp(a.v); return {e, e * a.d}; }
inline Dual log(Dual a) { return {std::log(a.v), a.d / a.v}; }
inline Dual log1p(Dual a) { return {std::log1p(a.v), a.d / (1 + a.v)}; }
inline Dual sqrt(Dual a) { const double s = std::sqrt(a.v); return {s, a.d / (2 * s)}; }
inline double val(Dual a) { return a.v; }
inline double val(double a) { return a; }
using std::exp;
using std::log;
using std::log1p;
using std::sqrt;

template <class T>
inline T softplus(T x) {  // torch's softplus: threshold 20
  return val(x) > 20 ? x : log1p(exp(x));
}

// Knots from K unnormalized sizes: out (K+1), exactly -B and B at the ends. pre: exp(u - max u) already
// computed (a batch through Kernels::exp_f64), or null.
template <class T>
inline void rq_knots(const T* u, int K, double min_size, double B, T* out, const T* pre = nullptr) {
  T e[64];
  T sum = 0.0;
  if (pre) {
    for (int i = 0; i < K; ++i) sum = sum + (e[i] = pre[i]);
  } else {
    double mx = val(u[0]);
    for (int i = 1; i < K; ++i) mx = std::max(mx, val(u[i]));
    for (int i = 0; i < K; ++i) sum = sum + (e[i] = exp(u[i] - T(mx)));
  }
  out[0] = -B;
  T cum = 0.0;
  for (int i = 0; i < K - 1; ++i) {
    cum = cum + (T(min_size) + T(1.0 - min_size * K) * e[i] / sum);
    out[i + 1] = T(2.0 * B) * cum - T(B);
  }
  out[K] = B;
}

// x -> y and log|dy/dx| (inverse: y -> x and log|dx/dy|). w, h (K), d (K-1) unnormalized. pre (2K): exp(w -
// max w) then exp(h - max h) already computed, or null (see rq_knots).
template <class T>
inline void rq_spline(T x, const T* w, const T* h, const T* dr, const SplineParams& o, bool inverse, T& y, T& logdet,
                      const T* pre = nullptr) {
  const double B = o.bound;
  const int K = o.bins;
  if (!(val(x) >= -B && val(x) <= B)) {  // identity tails
    y = x;
    logdet = 0.0;
    return;
  }
  T cw[65], ch[65];
  rq_knots(w, K, o.min_bin_width, B, cw, pre);
  rq_knots(h, K, o.min_bin_height, B, ch, pre ? pre + K : nullptr);
  // The knot derivative i (1 at the ends). Only the two around x's bin are used, so only those two pay for
  // their softplus (an exp and a log1p each: at batch 1 of a spline policy the libm calls cost as much as the
  // GEMVs).
  auto deriv = [&](int i) -> T {
    if (i == 0 || i == K) return T(1.0);
    T v = T(o.min_derivative) + softplus(dr[i - 1]);
    return val(v) > 1.0 / o.min_derivative ? T(1.0 / o.min_derivative) : v;
  };
  // searchsorted(right=True) - 1, clamped to [0, K-1]
  const T* kn = inverse ? ch : cw;
  int idx = 0;
  for (int i = 0; i <= K; ++i)
    if (val(kn[i]) <= val(x)) idx = i;
  idx = std::clamp(idx, 0, K - 1);
  const T x_k = cw[idx], w_k = cw[idx + 1] - cw[idx], y_k = ch[idx], h_k = ch[idx + 1] - ch[idx];
  const T d_k = deriv(idx), d_k1 = deriv(idx + 1);
  const T delta = h_k / w_k;
  const T slope_sum = d_k + d_k1 - T(2.0) * delta;
  T theta;
  if (!inverse) {
    theta = (x - x_k) / w_k;
    const T tt = theta * (T(1.0) - theta);
    y = y_k + h_k * (delta * theta * theta + d_k * tt) / (delta + slope_sum * tt);
  } else {
    const T dy = x - y_k;
    const T a = dy * slope_sum + h_k * (delta - d_k);
    const T b = h_k * d_k - dy * slope_sum;
    const T c = -delta * dy;
    T disc = b * b - T(4.0) * a * c;
    if (val(disc) < 0) disc = 0.0;
    theta = (T(2.0) * c) / (-b - sqrt(disc));
    y = theta * w_k + x_k;
  }
  const T tt = theta * (T(1.0) - theta);
  const T omt = T(1.0) - theta;
  const T dnum = delta * delta * (d_k1 * theta * theta + T(2.0) * delta * tt + d_k * omt * omt);
  logdet = log(dnum) - T(2.0) * log(delta + slope_sum * tt);
  if (inverse) logdet = -logdet;
}

}  // namespace nfp::rt
