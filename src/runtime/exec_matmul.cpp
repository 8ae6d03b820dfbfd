// The conditioners' Linear layers, y = x W^T + b, through the model's weight precision. W8A8 rounds each
// activation row to int8 (one symmetric scale per row, kernels_int8.cpp) before multiplying: one row runs the
// int8 x int8 GEMV with int32 accumulation; several rows (SBS, a transformer's tokens) go through the
// dequantizing f32 GEMM on the rounded rows, the same function up to f32 summation order, so a sample's
// result does not depend on how many samples share the call.
#include "runtime/exec.hpp"

namespace nfp::rt {

void matmul(Workspace& ws, const float* a, int lda, int M, const PackedMatrix& b, const float* bias, float* c, int ldc,
            bool accumulate) {
  const Kernels& k = kernels();
  if (b.type != WeightType::W8A8) {
    k.gemm(a, lda, M, b, bias, c, ldc, accumulate);
    return;
  }
  int8_t* q = ws.q8.data();
  if (M == 1) {
    const float sx = k.quantize_q8(a, b.K, q);
    k.gemv_w8a8(q, sx, b, bias, c, accumulate);
    return;
  }
  float* rows = ws.q8_rows.data();  // (M x K) the rounded rows
  for (int r = 0; r < M; ++r) {
    const float sx = k.quantize_q8(a + size_t(r) * lda, b.K, q);
    float* out = rows + size_t(r) * b.K;
    for (int i = 0; i < b.K; ++i) out[i] = float(q[i]) * sx;
  }
  k.gemm(rows, b.K, M, b, bias, c, ldc, accumulate);
}

}  // namespace nfp::rt
