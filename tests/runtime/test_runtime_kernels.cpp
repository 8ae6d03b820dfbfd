// Every compiled kernel variant against a plain double-precision reference: packed GEMM (odd sizes, the
// partial last panel, accumulate, bias), LayerNorm and GELU (erf approximation), GroupNorm's channel passes.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "runtime/kernels.hpp"

namespace nfp::rt {
namespace {

std::vector<const Kernels*> variants() {
  std::vector<const Kernels*> v{&kernels_generic()};
  if (kernels_avx2()) v.push_back(kernels_avx2());
  if (kernels_avx512()) v.push_back(kernels_avx512());
  return v;
}

// Random GEMM operands: A (M x K), a Linear's weight W (N x K), bias (N), an initial C0 (M x N).
struct GemmOperands {
  int M, K, N;
  std::vector<float> a, w, bias, c0;
};

GemmOperands random_operands(int M, int K, int N, std::mt19937& g) {
  std::normal_distribution<float> nd;
  GemmOperands o{M, K, N, std::vector<float>(size_t(M) * K), std::vector<float>(size_t(N) * K),
                 std::vector<float>(size_t(N)), std::vector<float>(size_t(M) * N)};
  for (auto* v : {&o.a, &o.w, &o.bias, &o.c0})
    for (auto& x : *v) x = nd(g);
  return o;
}

// Largest |C - reference| of kernel k's gemm with the packed matrix p, both with and without accumulating onto
// C0; the reference is computed in double from b (K x N, row-major: the values p should hold).
double gemm_error(const Kernels& k, const GemmOperands& o, const PackedMatrix& p, const std::vector<float>& b) {
  double worst = 0;
  for (bool acc : {false, true}) {
    std::vector<float> c = o.c0;
    k.gemm(o.a.data(), o.K, o.M, p, o.bias.data(), c.data(), o.N, acc);
    for (int i = 0; i < o.M; ++i)
      for (int j = 0; j < o.N; ++j) {
        double r = o.bias[size_t(j)] + (acc ? o.c0[size_t(i) * o.N + j] : 0.0);
        for (int q = 0; q < o.K; ++q) r += double(o.a[size_t(i) * o.K + q]) * b[size_t(q) * o.N + j];
        worst = std::max(worst, std::abs(r - c[size_t(i) * o.N + j]));
      }
  }
  return worst;
}

TEST(RuntimeKernels, GemmMatchesReference) {
  std::mt19937 g(1);
  // Last panels of every width class: 1 vector, half a panel, more (N = 33, 44, 60, 70, 5).
  for (auto [M, K, N] : {std::tuple{1, 7, 5}, {3, 35, 70}, {13, 64, 33}, {128, 291, 256}, {9, 1, 32}, {1, 40, 44},
                         {11, 40, 44}, {1, 20, 60}, {10, 20, 60}}) {
    const GemmOperands o = random_operands(M, K, N, g);
    std::vector<float> wt(size_t(K) * N);  // W transposed, from the unpacked weights
    for (int j = 0; j < N; ++j)
      for (int q = 0; q < K; ++q) wt[size_t(q) * N + j] = o.w[size_t(j) * K + q];
    const PackedMatrix p = pack_transposed(o.w.data(), N, K);
    for (const Kernels* k : variants())
      // float accumulation of K products of unit normals: error ~ sqrt(K) * 1e-7 * |terms|.
      EXPECT_LE(gemm_error(*k, o, p, wt), 1e-4 * std::sqrt(double(K))) << k->name << " " << M << "x" << K << "x" << N;
  }
}

TEST(RuntimeKernels, GeluAndLayerNormMatchReference) {
  std::vector<float> x;
  for (float v = -12; v <= 12; v += 0.01f) x.push_back(v);
  for (const Kernels* k : variants()) {
    std::vector<float> y(x.size());
    k->gelu(x.data(), y.data(), int64_t(x.size()));
    double worst = 0;
    for (size_t i = 0; i < x.size(); ++i)
      worst = std::max(worst, std::abs(0.5 * x[i] * (1 + std::erf(x[i] / std::sqrt(2.0))) - y[i]));
    EXPECT_LE(worst, 2e-6) << k->name;  // float GELU; |x| up to 12

    const int N = 37;
    std::vector<float> r(size_t(2) * N), gamma(N, 1.5f), beta(N, -0.25f), st(4);
    for (int i = 0; i < 2 * N; ++i) r[size_t(i)] = std::sin(float(i)) * 3 + 1;
    std::vector<float> orig = r;
    k->layer_norm(r.data(), 2, N, N, gamma.data(), beta.data(), st.data());
    for (int row = 0; row < 2; ++row) {
      double m = 0, v = 0;
      for (int j = 0; j < N; ++j) m += orig[size_t(row) * N + j];
      m /= N;
      for (int j = 0; j < N; ++j) v += std::pow(orig[size_t(row) * N + j] - m, 2);
      v /= N;
      for (int j = 0; j < N; ++j)
        EXPECT_NEAR(r[size_t(row) * N + j], (orig[size_t(row) * N + j] - m) / std::sqrt(v + 1e-5) * 1.5 - 0.25, 1e-5);
    }
  }
}

// GroupNorm's channel passes on channels-last maps, every variant against double: odd channel counts (the vector
// tail), with and without a centre, a residual and the ReLU.
TEST(RuntimeKernels, ChannelPassesMatchReference) {
  std::mt19937 g(3);
  std::normal_distribution<float> nd(0.5f, 2.0f);
  for (int C : {1, 3, 19, 32, 77}) {
    const int rows = 121;
    const size_t nc = static_cast<size_t>(C);
    std::vector<float> x(nc * rows), center(nc), scale(nc), shift(nc), res(nc * rows);
    for (auto* v : {&x, &center, &scale, &shift, &res})
      for (auto& e : *v) e = nd(g);
    for (const Kernels* k : variants()) {
      std::vector<float> sum(nc), sq(nc);
      k->channel_sums(x.data(), rows, C, nullptr, sum.data());
      k->channel_sums(x.data(), rows, C, center.data(), sq.data());
      for (int c = 0; c < C; ++c) {
        double s = 0, q = 0;
        for (int r = 0; r < rows; ++r) {
          const double v = x[size_t(r) * C + c];
          s += v;
          q += (v - center[size_t(c)]) * (v - center[size_t(c)]);
        }
        EXPECT_NEAR(sum[size_t(c)], s, 1e-5 * rows * 4) << k->name << " C " << C;  // float sums of 121 values
        EXPECT_NEAR(sq[size_t(c)], q, 1e-5 * q + 1e-4) << k->name << " C " << C;
      }
      for (bool relu : {false, true})
        for (bool residual : {false, true}) {
          std::vector<float> y = x;
          k->channel_affine(y.data(), rows, C, scale.data(), shift.data(), residual ? res.data() : nullptr, relu);
          for (size_t i = 0; i < y.size(); ++i) {
            double r = double(x[i]) * scale[i % size_t(C)] + shift[i % size_t(C)] + (residual ? res[i] : 0.0);
            if (relu) r = std::max(r, 0.0);
            ASSERT_NEAR(y[i], r, 1e-5 * (1 + std::abs(r))) << k->name << " C " << C;
          }
        }
    }
  }
}

// The affine coupling's tanh / exp against libm in double, over the range raw values take (and past the
// saturation and the clamps).
TEST(RuntimeKernels, TanhExpMatchesReference) {
  std::vector<float> raw;
  for (float v = -20; v <= 20; v += 0.003f) raw.push_back(v);
  for (const Kernels* k : variants())
    for (float sign : {1.0f, -1.0f}) {
      std::vector<float> s = raw, e(raw.size());
      k->tanh_exp(s.data(), e.data(), int64_t(s.size()), sign);
      double ws = 0, we = 0;
      for (size_t i = 0; i < raw.size(); ++i) {
        const double t = std::tanh(double(raw[i]));
        ws = std::max(ws, std::abs(t - s[i]));
        we = std::max(we, std::abs(std::exp(sign * t) - e[i]) / std::exp(sign * t));
      }
      EXPECT_LE(ws, 2e-7) << k->name;  // absolute: s enters log-dets as a sum
      EXPECT_LE(we, 4e-7) << k->name;  // relative: e scales the chunk
    }
}

// The spline's softmax exponentials in double against libm, over what they see (u - max u <= 0, down past the
// clamp) and a little above, the padded tail (n not a multiple of the vector), and NaN.
TEST(RuntimeKernels, ExpF64MatchesLibm) {
  std::vector<double> x;
  for (double v = -720; v <= 30; v += 0.01) x.push_back(v);
  x.push_back(std::nan(""));
  for (const Kernels* k : variants()) {
    std::vector<double> y(x.size());
    k->exp_f64(x.data(), y.data(), int64_t(x.size()));
    double worst = 0;
    for (size_t i = 0; i + 1 < x.size(); ++i) {
      if (x[i] < -708) {  // clamped: exp(-708), negligible next to the softmax's largest term (1)
        EXPECT_LE(y[i], 4e-308) << k->name << " " << x[i];
        continue;
      }
      worst = std::max(worst, std::abs(y[i] - std::exp(x[i])) / std::exp(x[i]));
    }
    EXPECT_LE(worst, 1e-15) << k->name;  // Cephes' bound is ~2 ulp (2.2e-16 each)
    EXPECT_TRUE(std::isnan(y.back())) << k->name;
  }
}

// The spline's logs in double against libm: across the exponent range (subnormals included), densely around 1
// (where log m's series carries the whole value), the padded tail, and libm's special values.
TEST(RuntimeKernels, LogF64MatchesLibm) {
  std::vector<double> x{1.0, 4.9e-324, 1e-310, 2.2250738585072014e-308, 1e-300, 0.5, 2.0, 1.4142135623730951,
                        0.7071067811865476, 1.7976931348623157e308};
  for (double v = -700; v <= 700; v += 0.37) x.push_back(std::exp(v));
  for (double d = -0.5; d <= 0.5; d += 1e-4) x.push_back(1.0 + d);
  for (double d = 1e-16; d < 1e-3; d *= 3) x.push_back(1.0 + d), x.push_back(1.0 - d);
  const size_t finite = x.size();
  for (double v : {0.0, -0.0, -1.0, -1e-300, std::nan(""), HUGE_VAL, -HUGE_VAL}) x.push_back(v);
  for (const Kernels* k : variants()) {
    std::vector<double> y(x.size());
    k->log_f64(x.data(), y.data(), int64_t(x.size()));
    double worst = 0;
    for (size_t i = 0; i < finite; ++i) {
      const double ref = std::log(x[i]);
      worst = std::max(worst, ref == 0 ? std::abs(y[i]) : std::abs(y[i] - ref) / std::abs(ref));
    }
    EXPECT_LE(worst, 1e-15) << k->name;  // a few ulp (2.2e-16 each)
    for (size_t i = finite; i < x.size(); ++i) {
      const double ref = std::log(x[i]);
      if (std::isnan(ref)) EXPECT_TRUE(std::isnan(y[i])) << k->name << " log(" << x[i] << ")";
      else EXPECT_EQ(y[i], ref) << k->name << " log(" << x[i] << ")";
    }
  }
}

// Narrow (bf16 / int8) weights: the GEMM must compute exactly A times the stored values (unpack_matrix), up to
// f32 accumulation rounding, on both paths: batch 1 (narrow values streamed and widened in registers, int8
// scale applied to the finished sums) and batched (blocks of kKBlock rows dequantized; K = 291 spans three
// blocks, so the partial-sum accumulation across blocks is exercised). W8A8 matrices met by f32 activations
// (the batched path of exec_matmul.cpp, after it rounded the rows) always take the dequantizing block path.
TEST(RuntimeKernels, NarrowGemmMatchesStoredValues) {
  std::mt19937 g(2);
  for (auto [M, K, N] : {std::tuple{1, 7, 5}, {1, 291, 70}, {3, 35, 70}, {13, 64, 33}, {128, 291, 256}, {9, 1, 32},
                         {1, 40, 44}, {1, 20, 60}, {10, 20, 60}}) {
    const GemmOperands o = random_operands(M, K, N, g);
    const PackedMatrix f = pack_transposed(o.w.data(), N, K);
    for (WeightType t : {WeightType::BF16, WeightType::I8, WeightType::W8A8}) {
      const PackedMatrix p = narrow_matrix(f, t);
      ASSERT_TRUE(p.data.empty()) << "a narrow matrix must not keep its f32 copy";
      const std::vector<float> b = unpack_matrix(p);  // (K x N)
      for (const Kernels* k : variants())
        // as the f32 test: float accumulation of K products of unit-size terms.
        EXPECT_LE(gemm_error(*k, o, p, b), 1e-4 * std::sqrt(double(K)))
            << k->name << " " << weight_type_name(t) << " " << M << "x" << K << "x" << N;
    }
  }
}

// The rounding itself: bf16 is round-to-nearest-even of the upper 16 bits (8 significant bits: |rel err| <= 2^-8); int8 is
// symmetric per column (= per output row of the Linear) with scale max|column| / 127, round to nearest
// (|err| <= scale / 2, the column's largest value exact up to f32 rounding).
TEST(RuntimeKernels, NarrowRoundingBounds) {
  EXPECT_EQ(bf16_to_f32(f32_to_bf16(1.0f + 0x1p-8f)), 1.0f);                 // a tie rounds to even (down)
  EXPECT_EQ(bf16_to_f32(f32_to_bf16(1.0f + 3 * 0x1p-8f)), 1.0f + 0x1p-6f);  // a tie rounds to even (up)
  EXPECT_EQ(bf16_to_f32(f32_to_bf16(1.0f + 0x1p-8f + 0x1p-20f)), 1.0f + 0x1p-7f);
  EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(std::nanf("")))));
  std::mt19937 g(3);
  std::normal_distribution<float> nd;
  const int K = 45, N = 37;
  std::vector<float> w(size_t(N) * K);
  for (auto& x : w) x = nd(g) * 0.1f;
  for (int k = 0; k < K; ++k) w[size_t(3) * K + k] = 0;  // an all-zero row must stay zero (scale 0)
  const PackedMatrix f = pack_transposed(w.data(), N, K);
  const std::vector<float> b16 = unpack_matrix(narrow_matrix(f, WeightType::BF16));
  const PackedMatrix q = narrow_matrix(f, WeightType::I8);
  const std::vector<float> b8 = unpack_matrix(q);
  for (int j = 0; j < N; ++j) {
    float mx = 0;
    for (int k = 0; k < K; ++k) mx = std::max(mx, std::abs(w[size_t(j) * K + k]));
    EXPECT_FLOAT_EQ(q.scale[size_t(j)], mx / 127.0f);
    for (int k = 0; k < K; ++k) {
      const float v = w[size_t(j) * K + k];
      EXPECT_LE(std::abs(b16[size_t(k) * N + j] - v), std::abs(v) * 0x1p-8f) << j << "," << k;
      EXPECT_LE(std::abs(b8[size_t(k) * N + j] - v), mx / 127.0f * 0.5f * (1 + 1e-5f)) << j << "," << k;
    }
  }
}

}  // namespace
}  // namespace nfp::rt
