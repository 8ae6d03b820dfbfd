// Compute kernels of the runtime: packed GEMM, LayerNorm, GELU, softmax. One implementation in
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

// Storage precision of a packed matrix's values (weight-only: activations and accumulation stay f32).
enum class WeightType : uint8_t { F32, BF16, I8 };

// A right-hand matrix B (K x N), packed once at load time into column panels of kPanel values:
// element (p * K + k) * kPanel + j = B[k][p * kPanel + j], zero past N. Exactly one of data / bf16 / i8 holds
// the values, by `type`. I8: B[k][j] = i8[...] * scale[j], one symmetric scale per column (= per output row
// of the Linear whose W^T this is), round-to-nearest; scale has panels * kPanel entries (zero past N).
struct PackedMatrix {
  int K = 0, N = 0;
  WeightType type = WeightType::F32;
  std::vector<float> data;
  std::vector<uint16_t> bf16;  // upper 16 bits of the f32 value, rounded to nearest even
  std::vector<int8_t> i8;
  std::vector<float> scale;
};

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
const char* weight_type_name(WeightType t);  // "f32" | "bf16" | "int8"

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
};

// The best variant this CPU runs (NFP_RUNTIME_KERNELS=generic|avx2|avx512 forces one, for tests).
const Kernels& kernels();
const Kernels& kernels_generic();
const Kernels* kernels_avx2();    // null when not compiled in
const Kernels* kernels_avx512();  // null when not compiled in

inline constexpr double kInvSqrt2 = 0.70710678118654752440;

}  // namespace nfp::rt
