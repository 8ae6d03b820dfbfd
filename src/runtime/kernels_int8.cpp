// W8A8 batch-1 GEMV: the activation row rounded to int8 (one symmetric scale per row), multiplied by int8
// weights with exact int32 accumulation, the two scales applied once to each finished dot product. Four paths,
// each in a function compiled for its instruction set (target attributes), so this file builds for any x86-64
// and the table of each kernel variant (kernels_impl.inc) picks what the CPU runs:
//   avx512-vnni  vpdpbusd zmm: 64 products per instruction; the activations are offset by +128 to unsigned
//                bytes and 128 x the column sums (precomputed at load) subtracted from the sums;
//   avx-vnni     the same on 256-bit vectors (VEX vpdpbusd);
//   avx2         vpmaddubsw with the sign trick: |x| (unsigned) times sign(x) w (signed); both at most 127 in
//                magnitude, so the pairs summed into int16 (<= 2 * 127 * 127) never saturate;
//   generic      plain int32 loops.
// Every path computes the same integers, and the same floats from them: quantization is round-half-even of
// fl(x * inv) everywhere (vcvtps2dq, or the 1.5 * 2^23 trick), and the epilogue is the same sequence of float
// operations (this file is compiled with -ffp-contract=off, so no path fuses them differently).
#include <algorithm>
#include <cmath>
#include <cstring>
#if defined(__x86_64__) && defined(NFP_RT_HAVE_AVX2)
#include <cpuid.h>
#include <immintrin.h>
#define NFP_RT_INT8_X86 1
#endif

#include "runtime/kernels.hpp"

namespace nfp::rt {
namespace {

// The row's scale and its reciprocal from max|x|; `bad` is the sum of x - x over the row (NaN iff it holds an Inf
// or a NaN). Such a row quantizes to zeros with a NaN scale, so its products come out NaN as in f32.
inline float row_scale(float amax, float bad, float& inv) {
  if (bad != 0.0f || !(amax <= 3.4e38f)) {
    inv = 0.0f;
    return std::nanf("");
  }
  inv = amax > 0.0f ? 127.0f / amax : 0.0f;
  return amax / 127.0f;
}

inline void pad_groups(int K, int8_t* q) {
  for (int k = K; k < 4 * k_groups(K); ++k) q[k] = 0;
}

// Round half to even without SSE4.1's roundps: adding and subtracting 1.5 * 2^23 leaves the nearest integer
// (|v| <= 127.0001 here, far inside the trick's 2^22 range); the default rounding mode is nearest-even.
inline int8_t round_q8(float v) {
  const float r = (v + 12582912.0f) - 12582912.0f;
  // A row holding NaN / Inf has inv 0 and scale NaN (row_scale), so x * inv is NaN here: stored as 0 (converting NaN
  // to an integer is undefined behaviour); the NaN scale still makes the row's outputs NaN, caught downstream.
  if (r != r) return 0;
  return int8_t(std::clamp(r, -127.0f, 127.0f));
}

// The row's scale (and inv) from a scan of max|x| and sum(x - x): the `lanes` partial results of a vector loop
// over x[0..k), folded in lane order, then the scalar tail x[k..K). Every path folds in this one order.
inline float scan_scale(const float* lane_max, const float* lane_bad, int lanes, const float* x, int k, int K,
                        float& inv) {
  float amax = 0, bad = 0;
  for (int i = 0; i < lanes; ++i) amax = lane_max[i] > amax ? lane_max[i] : amax, bad += lane_bad[i];
  for (int i = k; i < K; ++i) {
    const float a = std::abs(x[i]);
    amax = a > amax ? a : amax;
    bad += x[i] - x[i];
  }
  return row_scale(amax, bad, inv);
}

float quantize_generic(const float* x, int K, int8_t* q) {
  float inv;
  const float s = scan_scale(nullptr, nullptr, 0, x, 0, K, inv);
  for (int k = 0; k < K; ++k) q[k] = round_q8(x[k] * inv);
  pad_groups(K, q);
  return s;
}

// c[j] for the ncols columns of panel p from the exact dot products (the shared epilogue).
inline void finish(const int32_t* dot, int ncols, float sx, const float* scale, const float* bias, float* c,
                   bool accumulate) {
  for (int j = 0; j < ncols; ++j) {
    const float y = float(dot[j]) * (sx * scale[j]);
    c[j] = ((accumulate ? c[j] : 0.0f) + y) + (bias ? bias[j] : 0.0f);
  }
}

void gemv_generic(const int8_t* q, float sx, const PackedMatrix& b, const float* bias, float* c, bool accumulate) {
  const int K4 = k_groups(b.K), panels = (b.N + kPanel - 1) / kPanel;
  for (int p = 0; p < panels; ++p) {
    const int j0 = p * kPanel, ncols = std::min(kPanel, b.N - j0);
    const int8_t* w = b.i8.data() + size_t(p) * K4 * kPanel * 4;
    int32_t dot[kPanel] = {0};
    for (int g = 0; g < K4; ++g)
      for (int j = 0; j < kPanel; ++j)
        for (int i = 0; i < 4; ++i) dot[j] += int32_t(q[4 * g + i]) * int32_t(w[(size_t(g) * kPanel + j) * 4 + i]);
    finish(dot, ncols, sx, b.scale.data() + j0, bias ? bias + j0 : nullptr, c + j0, accumulate);
  }
}

#ifdef NFP_RT_INT8_X86
inline int32_t load4(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

__attribute__((target("avx2"))) float quantize_avx2(const float* x, int K, int8_t* q) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  __m256 vmax = _mm256_setzero_ps(), vbad = _mm256_setzero_ps();
  int k = 0;
  for (; k + 8 <= K; k += 8) {
    const __m256 v = _mm256_loadu_ps(x + k);
    vmax = _mm256_max_ps(vmax, _mm256_andnot_ps(sign, v));
    vbad = _mm256_add_ps(vbad, _mm256_sub_ps(v, v));
  }
  float m[8], bb[8], inv;
  _mm256_storeu_ps(m, vmax);
  _mm256_storeu_ps(bb, vbad);
  const float s = scan_scale(m, bb, 8, x, k, K, inv);
  const __m256 vinv = _mm256_set1_ps(inv);
  const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  k = 0;
  for (; k + 32 <= K; k += 32) {  // vcvtps2dq rounds half to even; the packs saturate (|v| <= 127 anyway)
    __m256i i32[4];
    for (int u = 0; u < 4; ++u) i32[u] = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + k + 8 * u), vinv));
    const __m256i i16a = _mm256_packs_epi32(i32[0], i32[1]), i16b = _mm256_packs_epi32(i32[2], i32[3]);
    const __m256i i8 = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(i16a, i16b), order);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(q + k), i8);
  }
  for (; k < K; ++k) q[k] = round_q8(x[k] * inv);
  pad_groups(K, q);
  return s;
}

// (The all-ones maskz forms compile to the same instructions; the unmasked ones trip GCC 12's
// -Wmaybe-uninitialized on their undefined pass-through operand.)
constexpr __mmask16 kAll = 0xFFFF;
__attribute__((target("avx512f"))) float quantize_avx512(const float* x, int K, int8_t* q) {
  __m512 vmax = _mm512_setzero_ps(), vbad = _mm512_setzero_ps();
  int k = 0;
  for (; k + 16 <= K; k += 16) {
    const __m512 v = _mm512_loadu_ps(x + k);
    vmax = _mm512_maskz_max_ps(kAll, vmax, _mm512_abs_ps(v));
    vbad = _mm512_add_ps(vbad, _mm512_sub_ps(v, v));
  }
  float m[16], bb[16], inv;
  _mm512_storeu_ps(m, vmax);
  _mm512_storeu_ps(bb, vbad);
  const float s = scan_scale(m, bb, 16, x, k, K, inv);
  const __m512 vinv = _mm512_set1_ps(inv);
  k = 0;
  for (; k + 16 <= K; k += 16)  // vcvtps2dq rounds half to even; vpmovsdb saturates (|v| <= 127 anyway)
    _mm_storeu_si128(reinterpret_cast<__m128i*>(q + k),
                     _mm512_maskz_cvtsepi32_epi8(kAll, _mm512_maskz_cvtps_epi32(kAll, _mm512_mul_ps(_mm512_loadu_ps(x + k), vinv))));
  for (; k < K; ++k) q[k] = round_q8(x[k] * inv);
  pad_groups(K, q);
  return s;
}

// A 256-bit GEMV: per panel, NU vectors of 8 columns (a last panel reads only the vectors holding its columns),
// two independent accumulator sets over the groups. DOT(acc, x, w) adds to each int32 lane of acc the 4
// products of the broadcast activation bytes x and the lane's 4 weight bytes w; OFFSET: x carries +128
// (subtract 128 x the column sums). A macro, not a template, because the two instances need different target
// attributes (a template's instances share the one it is declared with).
#define load256(p) _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))
#define NFP_RT_GEMV256(NAME, TARGET, SETUP, XFORM, DOT, OFFSET)                                                      \
  template <int NU>                                                                                                  \
  __attribute__((target(TARGET), always_inline)) inline void NAME##_panel(const int8_t* q, int K4, const int8_t* w, \
                                                                          int32_t* dot) {                            \
    SETUP;                                                                                                           \
    __m256i acc[2][NU];                                                                                              \
    for (int u = 0; u < 2; ++u)                                                                                      \
      for (int v = 0; v < NU; ++v) acc[u][v] = _mm256_setzero_si256();                                              \
    int g = 0;                                                                                                       \
    for (; g + 2 <= K4; g += 2) {                                                                                    \
      const __m256i x0 = XFORM(_mm256_set1_epi32(load4(q + 4 * g)));                                                 \
      const __m256i x1 = XFORM(_mm256_set1_epi32(load4(q + 4 * g + 4)));                                             \
      _Pragma("GCC unroll 4") for (int v = 0; v < NU; ++v) {                                                         \
        acc[0][v] = DOT(acc[0][v], x0, load256(w + (size_t(g) * kPanel + 8 * v) * 4));                               \
        acc[1][v] = DOT(acc[1][v], x1, load256(w + (size_t(g + 1) * kPanel + 8 * v) * 4));                           \
      }                                                                                                              \
    }                                                                                                                \
    if (g < K4) {                                                                                                    \
      const __m256i x0 = XFORM(_mm256_set1_epi32(load4(q + 4 * g)));                                                 \
      for (int v = 0; v < NU; ++v) acc[0][v] = DOT(acc[0][v], x0, load256(w + (size_t(g) * kPanel + 8 * v) * 4));    \
    }                                                                                                                \
    for (int v = 0; v < NU; ++v)                                                                                     \
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(dot + 8 * v), _mm256_add_epi32(acc[0][v], acc[1][v]));         \
  }                                                                                                                  \
  __attribute__((target(TARGET))) void NAME(const int8_t* q, float sx, const PackedMatrix& b, const float* bias,     \
                                            float* c, bool accumulate) {                                             \
    const int K4 = k_groups(b.K), panels = (b.N + kPanel - 1) / kPanel;                                              \
    for (int p = 0; p < panels; ++p) {                                                                               \
      const int j0 = p * kPanel, ncols = std::min(kPanel, b.N - j0);                                                 \
      const int8_t* w = b.i8.data() + size_t(p) * K4 * kPanel * 4;                                                   \
      alignas(32) int32_t dot[kPanel];                                                                               \
      if (ncols <= 8) NAME##_panel<1>(q, K4, w, dot);                                                                \
      else if (ncols <= 16) NAME##_panel<2>(q, K4, w, dot);                                                          \
      else NAME##_panel<4>(q, K4, w, dot);                                                                           \
      if (OFFSET)                                                                                                    \
        for (int j = 0; j < ncols; ++j) dot[j] -= 128 * b.colsum[size_t(j0 + j)];                                    \
      finish(dot, ncols, sx, b.scale.data() + j0, bias ? bias + j0 : nullptr, c + j0, accumulate);                   \
    }                                                                                                                \
  }

// vpmaddubsw(|x|, sign(w, x)): pairs into int16 (no saturation, see the top), vpmaddwd with ones: into int32.
#define NFP_RT_MADDUBS(acc, x, w) \
  _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_sign_epi8(x, x), _mm256_sign_epi8(w, x)), ones))
#define NFP_RT_IDENTITY(x) (x)
NFP_RT_GEMV256(gemv_avx2, "avx2", const __m256i ones = _mm256_set1_epi16(1), NFP_RT_IDENTITY, NFP_RT_MADDUBS, false)
#define NFP_RT_OFFSET128(x) _mm256_xor_si256(x, _mm256_set1_epi32(int32_t(0x80808080u)))
NFP_RT_GEMV256(gemv_avxvnni, "avx2,avxvnni", (void)0, NFP_RT_OFFSET128, _mm256_dpbusd_avx_epi32, true)

// 512-bit: 16 columns per vector, four independent accumulator sets over the groups (vpdpbusd's latency).
template <int NU>
__attribute__((target("avx512f,avx512vnni"), always_inline)) inline void panel512(const int8_t* q, int K4,
                                                                                  const int8_t* w, int32_t* dot) {
  __m512i acc[4][NU];
  for (int u = 0; u < 4; ++u)
    for (int v = 0; v < NU; ++v) acc[u][v] = _mm512_setzero_si512();
  int g = 0;
  for (; g + 4 <= K4; g += 4)
#pragma GCC unroll 4
    for (int u = 0; u < 4; ++u) {
      const __m512i x = _mm512_set1_epi32(int32_t(uint32_t(load4(q + 4 * (g + u))) ^ 0x80808080u));
#pragma GCC unroll 2
      for (int v = 0; v < NU; ++v)
        acc[u][v] = _mm512_dpbusd_epi32(acc[u][v], x, _mm512_loadu_si512(w + (size_t(g + u) * kPanel + 16 * v) * 4));
    }
  for (; g < K4; ++g) {
    const __m512i x = _mm512_set1_epi32(int32_t(uint32_t(load4(q + 4 * g)) ^ 0x80808080u));
    for (int v = 0; v < NU; ++v)
      acc[0][v] = _mm512_dpbusd_epi32(acc[0][v], x, _mm512_loadu_si512(w + (size_t(g) * kPanel + 16 * v) * 4));
  }
  for (int v = 0; v < NU; ++v)
    _mm512_storeu_si512(dot + 16 * v, _mm512_add_epi32(_mm512_add_epi32(acc[0][v], acc[1][v]),
                                                       _mm512_add_epi32(acc[2][v], acc[3][v])));
}

__attribute__((target("avx512f,avx512vnni"))) void gemv_avx512vnni(const int8_t* q, float sx, const PackedMatrix& b,
                                                                   const float* bias, float* c, bool accumulate) {
  const int K4 = k_groups(b.K), panels = (b.N + kPanel - 1) / kPanel;
  for (int p = 0; p < panels; ++p) {
    const int j0 = p * kPanel, ncols = std::min(kPanel, b.N - j0);
    const int8_t* w = b.i8.data() + size_t(p) * K4 * kPanel * 4;
    alignas(64) int32_t dot[kPanel];
    if (ncols <= 16) panel512<1>(q, K4, w, dot);
    else panel512<2>(q, K4, w, dot);
    for (int j = 0; j < ncols; ++j) dot[j] -= 128 * b.colsum[size_t(j0 + j)];
    finish(dot, ncols, sx, b.scale.data() + j0, bias ? bias + j0 : nullptr, c + j0, accumulate);
  }
}

bool has_avxvnni() {
  // CPUID leaf 7 sub-leaf 1, EAX bit 4 (AVX-VNNI), read directly: clang before 16 rejects
  // __builtin_cpu_supports("avxvnni"), and the sanitizer/fuzz build uses clang 14.
  static const bool v = [] {
    unsigned a = 0, b = 0, c = 0, d = 0;
    return __builtin_cpu_supports("avx2") && __get_cpuid_count(7, 1, &a, &b, &c, &d) && (a & (1u << 4)) != 0;
  }();
  return v;
}
bool has_avx512vnni() {
  static const bool v = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vnni");
  return v;
}
#endif

}  // namespace

// Each kernel variant's entries (kernels_impl.inc's tables): the best path its instruction set allows.
namespace generic {
float quantize_q8(const float* x, int K, int8_t* q) { return quantize_generic(x, K, q); }
void gemv_w8a8(const int8_t* q, float sx, const PackedMatrix& b, const float* bias, float* c, bool accumulate) {
  gemv_generic(q, sx, b, bias, c, accumulate);
}
}  // namespace generic

#ifdef NFP_RT_INT8_X86
namespace avx2 {
float quantize_q8(const float* x, int K, int8_t* q) { return quantize_avx2(x, K, q); }
void gemv_w8a8(const int8_t* q, float sx, const PackedMatrix& b, const float* bias, float* c, bool accumulate) {
  if (has_avxvnni()) gemv_avxvnni(q, sx, b, bias, c, accumulate);
  else gemv_avx2(q, sx, b, bias, c, accumulate);
}
}  // namespace avx2

namespace avx512 {
float quantize_q8(const float* x, int K, int8_t* q) { return quantize_avx512(x, K, q); }
void gemv_w8a8(const int8_t* q, float sx, const PackedMatrix& b, const float* bias, float* c, bool accumulate) {
  if (has_avx512vnni()) gemv_avx512vnni(q, sx, b, bias, c, accumulate);
  else avx2::gemv_w8a8(q, sx, b, bias, c, accumulate);
}
}  // namespace avx512
#endif

std::vector<Int8Path> int8_paths() {
  std::vector<Int8Path> v{{"generic", quantize_generic, gemv_generic}};
#ifdef NFP_RT_INT8_X86
  if (__builtin_cpu_supports("avx2")) v.push_back({"avx2", quantize_avx2, gemv_avx2});
  if (has_avxvnni()) v.push_back({"avx-vnni", quantize_avx2, gemv_avxvnni});
  if (has_avx512vnni()) v.push_back({"avx512-vnni", quantize_avx512, gemv_avx512vnni});
#endif
  return v;
}

}  // namespace nfp::rt
