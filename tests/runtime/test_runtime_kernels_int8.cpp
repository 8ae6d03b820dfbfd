// W8A8 kernels (src/runtime/kernels_int8.cpp), every int8 path this CPU runs (generic, avx2 = vpmaddubsw,
// avx-vnni, avx512-vnni) against scalar references:
//  - the activation quantizer: exactly round-half-even(fl(x * 127 / max|x|)), the same bytes from every path;
//  - the GEMV: the dot products are integers (|sum| < 2^31), so every path must produce them exactly; the
//    float epilogue is the same operations in every path, so all paths agree bit for bit, and with the
//    reference (int64 sums, double epilogue) within the epilogue's float rounding (a few ulp).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>

#include "runtime/kernels.hpp"

namespace nfp::rt {
namespace {

// The reference quantizer (this test is compiled without FMA contraction of x * inv into anything).
float reference_quantize(const std::vector<float>& x, std::vector<int8_t>& q) {
  float amax = 0;
  for (float v : x) amax = std::max(amax, std::abs(v));
  const float inv = amax > 0 ? 127.0f / amax : 0.0f;
  q.assign(size_t(4 * k_groups(int(x.size()))), 0);
  for (size_t k = 0; k < x.size(); ++k) {
    volatile float p = x[k] * inv;  // rounded to float first, as the kernels do
    q[k] = int8_t(std::nearbyint(float(p)));
  }
  return amax / 127.0f;
}

TEST(RuntimeKernelsInt8, EveryPathQuantizesExactlyAsTheReference) {
  const std::vector<Int8Path> paths = int8_paths();
  ASSERT_GE(paths.size(), 1u);
  for (const Int8Path& p : paths) std::printf("[ int8 path ] %s\n", p.name);  // which ones this CPU exercised
  std::mt19937 g(7);
  std::normal_distribution<float> nd;
  for (int K : {1, 3, 7, 16, 35, 64, 100, 256, 291}) {
    std::vector<float> x(static_cast<size_t>(K));
    for (auto& v : x) v = nd(g) * 2;
    // Exact ties of x * inv (amax 127 makes inv 1): half-integers must round to even, both ways.
    if (K >= 7) x[0] = 127, x[1] = 2.5f, x[2] = -3.5f, x[3] = 0.5f, x[4] = -0.5f;
    std::vector<int8_t> ref;
    const float sref = reference_quantize(x, ref);
    for (const Int8Path& p : paths) {
      std::vector<int8_t> q(ref.size() + 8, 99);  // 99: the padding must be overwritten with zeros
      const float s = p.quantize_q8(x.data(), K, q.data());
      EXPECT_EQ(s, sref) << p.name << " K=" << K;
      for (size_t k = 0; k < ref.size(); ++k) EXPECT_EQ(q[k], ref[k]) << p.name << " K=" << K << " k=" << k;
      if (K >= 7) {
        EXPECT_EQ(q[1], 2) << p.name;
        EXPECT_EQ(q[2], -4) << p.name;
        EXPECT_EQ(q[3], 0) << p.name;
      }
    }
  }
  for (const Int8Path& p : paths) {
    std::vector<float> zero(40, 0.0f), bad(40, 1.0f);
    std::vector<int8_t> q(40, 5);
    EXPECT_EQ(p.quantize_q8(zero.data(), 40, q.data()), 0.0f) << p.name;  // all-zero row: scale 0, zeros
    for (int8_t v : q) EXPECT_EQ(v, 0) << p.name;
    bad[33] = INFINITY;  // f32 would make the products Inf / NaN: so must w8a8 (a NaN scale)
    EXPECT_TRUE(std::isnan(p.quantize_q8(bad.data(), 40, q.data()))) << p.name;
    bad[33] = NAN;
    EXPECT_TRUE(std::isnan(p.quantize_q8(bad.data(), 40, q.data()))) << p.name;
  }
}

TEST(RuntimeKernelsInt8, EveryPathComputesTheExactIntegerDotProducts) {
  const std::vector<Int8Path> paths = int8_paths();
  std::mt19937 g(8);
  std::normal_distribution<float> nd;
  // K not a multiple of 4 (padding groups) and odd group counts (the unrolled loops' tails); N with last
  // panels of 1..32 columns (one vector / half a panel / more, on 256- and 512-bit paths).
  for (auto [K, N] : {std::pair{7, 5}, {291, 70}, {35, 70}, {64, 33}, {40, 44}, {20, 60}, {256, 256}, {1, 9},
                      {13, 17}, {256, 35}}) {
    std::vector<float> w(size_t(N) * K), x(static_cast<size_t>(K)), bias(static_cast<size_t>(N)), c0(static_cast<size_t>(N));
    for (auto* v : {&w, &x, &bias, &c0})
      for (auto& e : *v) e = nd(g);
    const PackedMatrix f = pack_transposed(w.data(), N, K);
    const PackedMatrix b = narrow_matrix(f, WeightType::W8A8);
    // The int8 values in the plain (k-major) layout, independently of W8A8's interleaving.
    const PackedMatrix ref8 = narrow_matrix(f, WeightType::I8);
    std::vector<int8_t> q;
    const float sx = reference_quantize(x, q);
    std::vector<double> expect(static_cast<size_t>(N));
    for (int j = 0; j < N; ++j) {
      const int p = j / kPanel, jj = j % kPanel;
      int64_t dot = 0;
      for (int k = 0; k < K; ++k) dot += int64_t(q[size_t(k)]) * ref8.i8[(size_t(p) * K + k) * kPanel + jj];
      expect[size_t(j)] = double(dot) * sx * ref8.scale[size_t(j)];
    }
    std::vector<float> first;
    for (const Int8Path& p : paths)
      for (bool acc : {false, true})
        for (bool with_bias : {false, true}) {
          std::vector<float> c = c0;
          p.gemv_w8a8(q.data(), sx, b, with_bias ? bias.data() : nullptr, c.data(), acc);
          for (int j = 0; j < N; ++j) {
            const double r = expect[size_t(j)] + (acc ? c0[size_t(j)] : 0.0) + (with_bias ? bias[size_t(j)] : 0.0);
            // float epilogue: the product (sx * scale) and the two additions, each within half an ulp.
            const double tol = 4e-7 * (std::abs(expect[size_t(j)]) + std::abs(c0[size_t(j)]) + std::abs(bias[size_t(j)])) + 1e-30;
            EXPECT_NEAR(c[size_t(j)], r, tol) << p.name << " " << K << "x" << N << " j=" << j;
          }
          if (acc && with_bias) {
            if (first.empty()) first = c;
            else EXPECT_EQ(0, std::memcmp(first.data(), c.data(), c.size() * sizeof(float))) << p.name << " differs from "
                                                                                            << paths[0].name;
          }
        }
  }
}

// The interleaved layout holds exactly int8's values and scales (unpack_matrix reads it back), and its column
// sums are the sums of those values (the +128 correction).
TEST(RuntimeKernelsInt8, InterleavedLayoutHoldsTheInt8Values) {
  std::mt19937 g(9);
  std::normal_distribution<float> nd;
  const int K = 45, N = 37;
  std::vector<float> w(size_t(N) * K);
  for (auto& v : w) v = nd(g);
  const PackedMatrix f = pack_transposed(w.data(), N, K);
  const PackedMatrix a = narrow_matrix(f, WeightType::I8), b = narrow_matrix(f, WeightType::W8A8);
  EXPECT_EQ(unpack_matrix(a), unpack_matrix(b));
  EXPECT_EQ(a.scale, b.scale);
  for (int j = 0; j < N; ++j) {
    int32_t s = 0;
    for (int k = 0; k < K; ++k) s += a.i8[(size_t(j / kPanel) * K + k) * kPanel + j % kPanel];
    EXPECT_EQ(b.colsum[size_t(j)], s) << j;
  }
  EXPECT_EQ(b.i8.size(), size_t(2) * k_groups(K) * kPanel * 4);  // 2 panels, K padded to 48
}

// Each kernel variant's table runs one of these paths (its best), so the dispatch itself is covered too.
TEST(RuntimeKernelsInt8, VariantTablesComputeThePathsResult) {
  std::mt19937 g(10);
  std::normal_distribution<float> nd;
  const int K = 99, N = 40;
  std::vector<float> w(size_t(N) * K), x(static_cast<size_t>(K));
  for (auto* v : {&w, &x})
    for (auto& e : *v) e = nd(g);
  const PackedMatrix b = narrow_matrix(pack_transposed(w.data(), N, K), WeightType::W8A8);
  std::vector<int8_t> q(100);
  const float sx = int8_paths()[0].quantize_q8(x.data(), K, q.data());
  std::vector<float> ref(static_cast<size_t>(N));
  int8_paths()[0].gemv_w8a8(q.data(), sx, b, nullptr, ref.data(), false);
  std::vector<const Kernels*> variants{&kernels_generic()};
  if (kernels_avx2()) variants.push_back(kernels_avx2());
  if (kernels_avx512()) variants.push_back(kernels_avx512());
  for (const Kernels* k : variants) {
    std::vector<int8_t> qk(100);
    EXPECT_EQ(k->quantize_q8(x.data(), K, qk.data()), sx) << k->name;
    EXPECT_EQ(qk, q) << k->name;
    std::vector<float> c(static_cast<size_t>(N));
    k->gemv_w8a8(qk.data(), sx, b, nullptr, c.data(), false);
    EXPECT_EQ(c, ref) << k->name;
  }
}

}  // namespace
}  // namespace nfp::rt
