// The runtime's compute passes over a Workspace (private to src/runtime). Shapes: R rows (samples of one
// observation), D = flow dim, Dc / Dt the untouched / transformed features of a coupling, P params per feature.
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "runtime/workspace.hpp"

namespace nfp::rt {

// Normalizes obs (obs_dim; null when unconditional) into ws.ctx, or runs a policy's encoder on it (a policy without
// cameras or instruction: obs is its state vector), and precomputes everything that depends on the context alone
// (the context columns of each MLP's first Linear, the transformers' context K/V); sets ws.context_ready.
// Returns false, having computed nothing further, when a normalized observation value is not usable (see
// usable()) or a policy's encoder output (the context) is not finite.
[[nodiscard]] bool set_context(Workspace& ws, const float* obs);
// A policy's context from its whole observation: the state vector (obs_dim floats; may be null when obs_dim is 0),
// cameras x history uint8 images (camera-major, camera size) and the instruction (null = none). The same checks.
[[nodiscard]] bool encode_observation(Workspace& ws, const float* state, const uint8_t* const* images,
                                      const char* instruction);
// exec_image.cpp: camera c's features (history x net.feature_dim, into out) from its frames (history images,
// oldest first): resize, crop, trunk, pooling, projection. A frame byte-identical to one the previous call of this
// workspace saw for the camera, or to an earlier frame of this call, reuses its features (the same bytes give the
// same floats: the computation is deterministic and runs frame by frame either way).
void camera_features(Workspace& ws, size_t camera, const uint8_t* const* frames, float* out);
// exec_instruction.cpp: the pooled vector (dim) and, with n.tokens, the projected words (max_tokens x C).
void instruction_features(Workspace& ws, const InstructionNet& n, const char* text, float* pooled, float* tokens);

// A normalized input value the networks can take: finite, and its square finite in float32 (|v| < 1.8e19).
// The networks square their activations (LayerNorm variance, attention scores), so a larger value (FLT_MAX from
// a broken sensor, even divided by its std) would come out as Inf / NaN or as a meaningless saturated action.
inline bool usable(float v) { return std::isfinite(v * v); }
inline bool all_finite(const float* v, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (!std::isfinite(v[i])) return false;
  return true;
}

// latent -> data in place: x (R x D) holds z on entry; logdet (R) += sum log|dx/dz|.
void flow_inverse(Workspace& ws, float* x, int R, double* logdet);
// data -> latent in place; logdet (R) += sum log|dz/dx|. acts (layers+1) x (R x D) receives each layer's input.
void flow_forward(Workspace& ws, float* x, int R, double* logdet, float* acts);
// log p (R) and its gradient with respect to x (R x D), by the flow's backward pass.
void flow_log_prob_grad(Workspace& ws, const float* x, int R, float* grad, double* logp);

// Conditioner: xc rows (R x Dc, stride ldx) -> out (R x Dt*P). ctx_cache: this net's context part.
void net_forward(Workspace& ws, const Net& net, const float* ctx_cache, const float* xc, int ldx, int R, float* out,
                 MlpTape* tape);
// Adds d(out)/d(xc)^T dout to dxc (R x Dc, stride lddx); needs the tape of net_forward (MLP), or recomputes
// (transformer).
void net_backward(Workspace& ws, const Net& net, const float* ctx_cache, const float* xc, int ldx, int R,
                  const float* dout, MlpTape& tape, float* dxc, int lddx);

// A conditioner Linear's forward product, c (M x N) = [c +] a (M x K) b [+ bias], in the weights' precision
// (exec_matmul.cpp: W8A8 rounds the rows of a to int8 first; others are kernels().gemm).
void matmul(Workspace& ws, const float* a, int lda, int M, const PackedMatrix& b, const float* bias, float* c, int ldc,
            bool accumulate);

// MLP and transformer conditioners (exec_mlp.cpp, exec_transformer.cpp).
void mlp_context(Workspace& ws, const MlpNet& n, const float* pooled, float* cache);
void mlp_forward(Workspace& ws, const MlpNet& n, const float* cache, const float* xc, int ldx, int R, float* out,
                 MlpTape* tape);
void mlp_backward(Workspace& ws, const MlpNet& n, int R, const float* dout, const MlpTape& tape, float* dxc, int lddx);
size_t transformer_cache_size(const TransformerNet& t, int context_tokens);
// Floats of ws.tf_tape the backward pass of `t` needs for one row (exec_transformer_grad.cpp).
size_t transformer_tape_size(const TransformerNet& t, int context_tokens);
void transformer_context(Workspace& ws, const TransformerNet& t, const float* ctx, int N, float* cache);
void transformer_forward(Workspace& ws, const TransformerNet& t, const float* cache, const float* xc, int ldx, int R,
                         float* out, int P);
void transformer_backward(Workspace& ws, const TransformerNet& t, const float* cache, const float* xc, int ldx, int R,
                          int P, const float* dout, float* dxc, int lddx);

double std_normal_log_prob(const float* z, int D);

// The layer kinds' passes (layer_kinds.hpp's LayerOps): apply in exec_flow.cpp, backward in exec_grad.cpp.
// apply: x (R x D) in place, logdet (R) += log|det|; backward: grad (R x D) from d/d(output) to d/d(input).
void actnorm_apply(Workspace& ws, size_t layer, float* x, int R, double* logdet, bool inverse);
void permutation_apply(Workspace& ws, size_t layer, float* x, int R, double* logdet, bool inverse);
void plu_apply(Workspace& ws, size_t layer, float* x, int R, double* logdet, bool inverse);
void affine_apply(Workspace& ws, size_t layer, float* x, int R, double* logdet, bool inverse);
void spline_apply(Workspace& ws, size_t layer, float* x, int R, double* logdet, bool inverse);
void actnorm_backward(Workspace& ws, size_t layer, const float* xin, float* grad, int R);
void permutation_backward(Workspace& ws, size_t layer, const float* xin, float* grad, int R);
void plu_backward(Workspace& ws, size_t layer, const float* xin, float* grad, int R);
void affine_backward(Workspace& ws, size_t layer, const float* xin, float* grad, int R);
void spline_backward(Workspace& ws, size_t layer, const float* xin, float* grad, int R);

}  // namespace nfp::rt
