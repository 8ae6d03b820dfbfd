// Packing, variant dispatch and scalar helpers.
#include "runtime/kernels.hpp"

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
