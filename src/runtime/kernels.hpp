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

// A right-hand matrix B (K x N), packed once at load time into column panels of kPanel floats:
// data[(p * K + k) * kPanel + j] = B[k][p * kPanel + j], zero past N.
struct PackedMatrix {
  int K = 0, N = 0;
  std::vector<float> data;
};

// Packs B given row-major (K x N) with row stride ldb.
PackedMatrix pack_matrix(const float* b, int K, int N, int ldb);
// Packs the transpose of W (N x K, row-major), i.e. B = W^T: what y = x W^T needs.
PackedMatrix pack_transposed(const float* w, int N, int K);

struct Kernels {
  const char* name;
  // C (M x N, row stride ldc) = [C +] A (M x K, row stride lda) B [+ bias (N)]; bias may be null.
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
