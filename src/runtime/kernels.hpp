// Compute kernels of the runtime: packed GEMM, LayerNorm, GELU, softmax, GroupNorm's channel passes. One implementation in
// kernels_impl.inc, compiled three times (AVX-512, AVX2+FMA, baseline x86-64 / any CPU) and picked once at
// load time by what the CPU supports, so one binary runs everywhere and uses the wide units where they exist.
#pragma once
#include <cstdint>
#include <vector>

namespace nfp::rt {

// Panel width of the packed right-hand matrix (floats). Fixed across kernel variants so one packed model
// serves every variant.
constexpr int kPanel = 32;
// Rows of a narrow panel dequantized at a time by the batched GEMM (kKBlock x kPanel floats = 16 KB on the
// stack: fits L1, and a call allocates nothing).
constexpr int kKBlock = 128;

// Storage precision of a packed matrix's values. F32 / BF16 / I8 are weight-only (activations and
// accumulation stay f32). W8A8 stores int8 weights like I8, in the 4-row-interleaved layout the int8 dot-product
// instructions read (see PackedMatrix), and its users (exec.hpp's matmul) round the activation row to int8 too
// and accumulate in int32 (kernels_int8.cpp).
enum class WeightType : uint8_t { F32, BF16, I8, W8A8 };

// A right-hand matrix B (K x N), packed once at load time into column panels of kPanel values:
// element (p * K + k) * kPanel + j = B[k][p * kPanel + j], zero past N. Exactly one of data / bf16 / i8 holds
// the values, by `type`. I8: B[k][j] = i8[...] * scale[j], one symmetric scale per column (= per output row
// of the Linear whose W^T this is), round-to-nearest; scale has panels * kPanel entries (zero past N).
// W8A8: the same values and scales, but four consecutive rows of a column are adjacent bytes (what vpdpbusd /
// vpmaddubsw multiply-add into one int32 lane): element ((p * K4 + k / 4) * kPanel + j) * 4 + k % 4, K4 =
// ceil(K / 4), zero in the padding rows; colsum[j] = sum over k of the int8 values of column j (the int8 dot
// product's +128 offset correction, kernels_int8.cpp).
struct PackedMatrix {
  int K = 0, N = 0;
  WeightType type = WeightType::F32;
  std::vector<float> data;
  std::vector<uint16_t> bf16;  // upper 16 bits of the f32 value, rounded to nearest even
  std::vector<int8_t> i8;
  std::vector<float> scale;
  std::vector<int32_t> colsum;  // W8A8 only (panels * kPanel)
};
inline int k_groups(int K) { return (K + 3) / 4; }  // W8A8: K4

// Packs B given row-major (K x N) with row stride ldb.
PackedMatrix pack_matrix(const float* b, int K, int N, int ldb);
// Packs the transpose of W (N x K, row-major), i.e. B = W^T: what y = x W^T needs.
PackedMatrix pack_transposed(const float* w, int N, int K);
// The same values stored as `type` (F32: a copy); an all-zero int8 column gets scale 0.
PackedMatrix narrow_matrix(const PackedMatrix& f32, WeightType type);
// The stored values back in f32, unpacked: B (K x N) row-major (what the narrow matrix multiplies by).
std::vector<float> unpack_matrix(const PackedMatrix& m);
// Dequantizes rows [k0, k0 + kc) of panel p into out (kc x kPanel), the f32 panel layout.
void dequantize_panel(const PackedMatrix& m, int p, int k0, int kc, float* out);
uint16_t f32_to_bf16(float x);  // round to nearest even (NaN stays NaN)
inline float bf16_to_f32(uint16_t h) {
  const uint32_t u = uint32_t(h) << 16;
  float f;
  __builtin_memcpy(&f, &u, 4);
  return f;
}
const char* weight_type_name(WeightType t);  // "f32" | "bf16" | "int8" | "w8a8"

struct Kernels {
  const char* name;
  // C (M x N, row stride ldc) = [C +] A (M x K, row stride lda) B [+ bias (N)]; bias may be null.
  // Narrow B: one row (M = 1) streams the narrow values and converts them in registers; more rows
  // dequantize kKBlock rows of a panel at a time into a stack block and run the f32 micro-kernel on it.
  void (*gemm)(const float* a, int lda, int M, const PackedMatrix& b, const float* bias, float* c, int ldc,
               bool accumulate);
  // Row-wise LayerNorm in place over (M x N) rows of stride ld; eps 1e-5 (torch's default).
  // mean_rstd (M x 2) receives mean and 1/std when not null (the backward pass needs them).
  void (*layer_norm)(float* x, int M, int N, int ld, const float* gamma, const float* beta, float* mean_rstd);
  // y = gelu(x) elementwise, exact erf form (torch's default GELU), n values; y may alias x.
  void (*gelu)(const float* x, float* y, int64_t n);
  // The affine coupling's coefficients, n values: s = tanh(s) in place and e = exp(sign * s) (float
  // accuracy, |err| ~ 1e-7; vectorized, no libm calls).
  void (*tanh_exp)(float* s, float* e, int64_t n, float sign);
  // y = exp(x), n doubles (|rel err| ~ 1e-16, Cephes' Pade form; vectorized, no libm calls); x below -708 gives
  // exp(-708) ~ 3e-308 rather than 0 (only ever summed with numbers near 1: the spline's softmax); NaN stays NaN.
  void (*exp_f64)(const double* x, double* y, int64_t n);
  // y = log(x), n doubles (|abs err| <= ~2e-16 |y| + ~1e-16 near x = 1; vectorized, no libm calls): x = m 2^e,
  // m in [sqrt(1/2), sqrt(2)), log m = 2 atanh(s), s = (m - 1) / (m + 1), by its series to s^21. libm's special
  // values: log(0) = -Inf, log(x < 0) = log(NaN) = NaN, log(+Inf) = +Inf; subnormals are exact too.
  void (*log_f64)(const double* x, double* y, int64_t n);
  // W8A8 (kernels_int8.cpp). quantize_q8: q (K, then zeros up to 4 * k_groups(K)) = round-half-even(x * 127 /
  // max|x|), returns the row's scale max|x| / 127 (0 for an all-zero row; NaN when x holds an Inf / NaN, so
  // the products become NaN as in f32). gemv_w8a8: c (b.N) = [c +] sx * scale[j] * sum_k q[k] w8[k][j]
  // [+ bias], the sum exact in int32.
  float (*quantize_q8)(const float* x, int K, int8_t* q);
  void (*gemv_w8a8)(const int8_t* q, float sx, const PackedMatrix& b, const float* bias, float* c, bool accumulate);
  // GroupNorm on channels-last maps (exec_image.cpp). channel_sums: out (C) = the sum over the rows of x (rows x C),
  // or of (x - center)^2 when center (C) is given. channel_affine: in place, x = x * scale + shift [+ residual],
  // then max(x, 0) when relu (scale, shift per channel; residual rows x C or null).
  void (*channel_sums)(const float* x, int rows, int C, const float* center, float* out);
  void (*channel_affine)(float* x, int rows, int C, const float* scale, const float* shift, const float* residual,
                         bool relu);
};

// The int8 dot-product paths this CPU runs (for the tests: each must give the same integers): "generic",
// "avx2" (vpmaddubsw, sign trick), "avx-vnni" (256-bit vpdpbusd), "avx512-vnni" (512-bit vpdpbusd).
struct Int8Path {
  const char* name;
  float (*quantize_q8)(const float* x, int K, int8_t* q);
  void (*gemv_w8a8)(const int8_t* q, float sx, const PackedMatrix& b, const float* bias, float* c, bool accumulate);
};
std::vector<Int8Path> int8_paths();

// The best variant this CPU runs (NFP_RUNTIME_KERNELS=generic|avx2|avx512 forces one, for tests).
const Kernels& kernels();
const Kernels& kernels_generic();
const Kernels* kernels_avx2();    // null when not compiled in
const Kernels* kernels_avx512();  // null when not compiled in

inline constexpr double kInvSqrt2 = 0.70710678118654752440;

}  // namespace nfp::rt
