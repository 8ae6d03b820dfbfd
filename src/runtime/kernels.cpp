// Packing, variant dispatch and scalar helpers.
#include "runtime/kernels.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>

namespace nfp::rt {
namespace generic { extern const Kernels table; }
#ifdef NFP_RT_HAVE_AVX2
namespace avx2 { extern const Kernels table; }
#endif
#ifdef NFP_RT_HAVE_AVX512
namespace avx512 { extern const Kernels table; }
#endif

PackedMatrix pack_matrix(const float* b, int K, int N, int ldb) {
  PackedMatrix m;
  m.K = K;
  m.N = N;
  const int panels = (N + kPanel - 1) / kPanel;
  m.data.assign(size_t(panels) * size_t(K) * kPanel, 0.0f);
  for (int p = 0; p < panels; ++p)
    for (int k = 0; k < K; ++k)
      for (int j = 0; j < kPanel && p * kPanel + j < N; ++j)
        m.data[(size_t(p) * K + k) * kPanel + j] = b[size_t(k) * ldb + p * kPanel + j];
  return m;
}

PackedMatrix pack_transposed(const float* w, int N, int K) {
  std::vector<float> t(size_t(K) * N);
  for (int n = 0; n < N; ++n)
    for (int k = 0; k < K; ++k) t[size_t(k) * N + n] = w[size_t(n) * K + k];
  return pack_matrix(t.data(), K, N, N);
}

uint16_t f32_to_bf16(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 0x40);  // NaN: keep it a (quiet) NaN
  u += 0x7fffu + ((u >> 16) & 1u);                                           // round to nearest, ties to even
  return uint16_t(u >> 16);
}

const char* weight_type_name(WeightType t) {
  return t == WeightType::BF16 ? "bf16" : t == WeightType::I8 ? "int8" : t == WeightType::W8A8 ? "w8a8" : "f32";
}

PackedMatrix narrow_matrix(const PackedMatrix& f, WeightType type) {
  PackedMatrix m;
  m.K = f.K;
  m.N = f.N;
  m.type = type;
  if (type == WeightType::F32) {
    m.data = f.data;
  } else if (type == WeightType::BF16) {
    m.bf16.resize(f.data.size());
    for (size_t i = 0; i < f.data.size(); ++i) m.bf16[i] = f32_to_bf16(f.data[i]);
  } else if (type == WeightType::W8A8) {
    // The int8 values and scales of I8, re-laid four rows to a group (kernels.hpp), with the column sums.
    PackedMatrix q = narrow_matrix(f, WeightType::I8);
    const int panels = (f.N + kPanel - 1) / kPanel, K4 = k_groups(f.K);
    m.scale = std::move(q.scale);
    m.i8.assign(size_t(panels) * K4 * kPanel * 4, 0);
    m.colsum.assign(size_t(panels) * kPanel, 0);
    for (int p = 0; p < panels; ++p)
      for (int k = 0; k < f.K; ++k)
        for (int j = 0; j < kPanel; ++j) {
          const int8_t v = q.i8[(size_t(p) * f.K + k) * kPanel + j];
          m.i8[((size_t(p) * K4 + k / 4) * kPanel + j) * 4 + k % 4] = v;
          m.colsum[size_t(p) * kPanel + j] += v;
        }
  } else {
    const int panels = (f.N + kPanel - 1) / kPanel;
    m.scale.assign(size_t(panels) * kPanel, 0.0f);
    m.i8.resize(f.data.size());
    for (int p = 0; p < panels; ++p) {
      const float* src = f.data.data() + size_t(p) * f.K * kPanel;
      float* sc = m.scale.data() + size_t(p) * kPanel;
      for (int j = 0; j < kPanel; ++j) {
        float mx = 0;
        for (int k = 0; k < f.K; ++k) mx = std::max(mx, std::abs(src[size_t(k) * kPanel + j]));
        sc[j] = mx / 127.0f;
      }
      int8_t* dst = m.i8.data() + size_t(p) * f.K * kPanel;
      for (int k = 0; k < f.K; ++k)
        for (int j = 0; j < kPanel; ++j) {
          const float v = src[size_t(k) * kPanel + j];
          const float q = sc[j] > 0 ? std::nearbyint(v / sc[j]) : 0.0f;  // |v| <= 127 sc: q in [-127, 127]
          dst[size_t(k) * kPanel + j] = int8_t(std::clamp(q, -127.0f, 127.0f));
        }
    }
  }
  return m;
}

void dequantize_panel(const PackedMatrix& m, int p, int k0, int kc, float* out) {
  const size_t base = (size_t(p) * m.K + size_t(k0)) * kPanel, n = size_t(kc) * kPanel;
  if (m.type == WeightType::F32) {
    std::memcpy(out, m.data.data() + base, n * sizeof(float));
  } else if (m.type == WeightType::BF16) {
    for (size_t i = 0; i < n; ++i) out[i] = bf16_to_f32(m.bf16[base + i]);
  } else if (m.type == WeightType::W8A8) {
    const float* sc = m.scale.data() + size_t(p) * kPanel;
    const size_t K4 = size_t(k_groups(m.K));
    for (int k = 0; k < kc; ++k)
      for (int j = 0; j < kPanel; ++j) {
        const size_t r = size_t(k0 + k);
        out[size_t(k) * kPanel + j] = float(m.i8[((size_t(p) * K4 + r / 4) * kPanel + j) * 4 + r % 4]) * sc[j];
      }
  } else {
    const float* sc = m.scale.data() + size_t(p) * kPanel;
    for (size_t i = 0; i < n; ++i) out[i] = float(m.i8[base + i]) * sc[i % kPanel];
  }
}

std::vector<float> unpack_matrix(const PackedMatrix& m) {
  std::vector<float> b(size_t(m.K) * m.N), panel(size_t(m.K) * kPanel);
  const int panels = (m.N + kPanel - 1) / kPanel;
  for (int p = 0; p < panels; ++p) {
    dequantize_panel(m, p, 0, m.K, panel.data());
    for (int k = 0; k < m.K; ++k)
      for (int j = 0; j < kPanel && p * kPanel + j < m.N; ++j)
        b[size_t(k) * m.N + p * kPanel + j] = panel[size_t(k) * kPanel + j];
  }
  return b;
}

const Kernels& kernels_generic() { return generic::table; }
const Kernels* kernels_avx2() {
#ifdef NFP_RT_HAVE_AVX2
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return &avx2::table;
#endif
  return nullptr;
}
const Kernels* kernels_avx512() {
#ifdef NFP_RT_HAVE_AVX512
  if (__builtin_cpu_supports("avx512f")) return &avx512::table;
#endif
  return nullptr;
}

const Kernels& kernels() {
  static const Kernels* chosen = [] {
    const char* force = std::getenv("NFP_RUNTIME_KERNELS");
    if (force && std::strcmp(force, "generic") == 0) return &kernels_generic();
    if (force && std::strcmp(force, "avx2") == 0 && kernels_avx2()) return kernels_avx2();
    if (const Kernels* k = kernels_avx512()) return k;
    if (const Kernels* k = kernels_avx2()) return k;
    return &kernels_generic();
  }();
  return *chosen;
}

}  // namespace nfp::rt
