// The runtime model: plain structs of hyperparameters and packed weights (ggml style), immutable after load.
// Built from the file's explicit layers[] (see docs/RUNTIME.md for the file format and the weight names).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "runtime/linear.hpp"
#include "runtime/model_encoders.hpp"

namespace nfp::rt {

// cat(x_cond, pooled ctx) -> [Linear -> LayerNorm -> GELU] x depth -> Linear -> (Dt x P)
struct MlpNet {
  std::vector<Linear> hidden_x;  // hidden_x[0]: the x_cond columns of the first Linear (with its bias)
  Linear first_ctx;              // the context columns of the first Linear (no bias); in = 0 if unconditional
  std::vector<LayerNorm> norms;
  Linear out;
};

struct Attention {
  int heads = 1;
  Linear q, kv, out;
};

struct TransformerBlock {
  LayerNorm ln_self, ln_cross, ln_ff;
  Attention self_attn, cross_attn;
  bool cross = false, ff = false;
  Linear ff1, ff2;
};

struct TransformerNet {
  int A = 0, H = 0, tokens_in = 0, tokens_out = 0, tokens = 0, groups = 1;
  Linear input_proj, context_proj;
  std::vector<float> pad_tokens;  // ((tokens - tokens_in) x H)
  std::vector<float> positional;  // (tokens x H) or empty
  std::vector<TransformerBlock> blocks;
  LayerNorm final_ln;
  std::vector<Linear> head1, head2;  // per group: Linear(H, 2H) -> GELU -> Linear(2H, A P / groups)
};

struct Net {
  bool transformer = false;
  int cond_dim = 0, trans_dim = 0, P = 1;  // in (B x Dc) -> out (B x Dt x P)
  MlpNet mlp;
  TransformerNet tf;
};

struct SplineParams {
  int bins = 8;
  double bound = 3, min_bin_width = 1e-3, min_bin_height = 1e-3, min_derivative = 1e-3;
};

struct LayerOps;  // a layer kind's builder and passes (runtime/layer_kinds.hpp)

// One entry of the file's layers[] (a masked coupling becomes permutation, coupling, permutation).
struct Layer {
  const LayerOps* ops = nullptr;        // how this kind is applied and differentiated
  std::string kind;                     // e.g. "affine_coupling", as in the file
  std::string name;                     // its tensors' prefix, e.g. "flow.affine2"
  std::vector<float> bias, log_scale;   // ActNorm (D)
  std::vector<int> perm, inverse_perm;  // Permutation (D)
  int cond_dim = 0;                     // couplings: the first cond_dim features pass through
  std::vector<Net> nets;                // affine: {scale, shift} or {joint (P = 2)}; spline: {net}
  PackedMatrix w_fwd, w_inv, w_back;    // PLU: W^T, W^-1^T, W
  double logdet = 0;                    // ActNorm / PLU: the constant forward log-det
  SplineParams spline;                  // spline coupling
};

// A policy's observation encoder (include/nfp/policy.hpp): the state MLP over the normalized obs history (+ camera
// features, prev action, pooled instruction; model_encoders.hpp) -> [Linear -> LayerNorm -> GELU] x layers ->
// Linear -> context (C). Same structure as an MLP conditioner without context columns: it runs through mlp_forward.
struct Encoder {
  bool present = false;
  int in = 0;  // the MLP's input width
  MlpNet net;
  PolicyInput input;  // what the MLP's input is made of
};

struct Model {
  std::string source;        // the file it came from
  std::string config_json;   // the embedded config, verbatim
  std::string kind;          // "flow" | "density" | "policy"
  int dim = 0;               // D = horizon x action_dim
  int horizon = 1, action_dim = 0;
  int context_dim = 0;       // C (0: unconditional)
  int context_tokens = 1;    // N context vectors per observation (N x C)
  int obs_dim = 0;           // the floats the caller passes: N x C, or a policy's state vector (low-dim history +
                             // previous action; images and the instruction come separately, nfp_rt_observe)
  int hidden_max = 0;        // the widest activation, for workspace sizing
  std::vector<Layer> layers;  // data -> latent order
  Encoder encoder;            // kind "policy": obs (obs_dim) -> context (C)
  float action_clamp = 0;     // > 0: sampled chunks are clamped to [-c, c] (normalized) before denormalizing
  WeightType weights = WeightType::F32;  // storage of the conditioners' Linear weights (model_quantize.cpp)
  float sigma = 1;            // the policy's configured base std (1 for flows and density models)
  // The likelihood monitor exported with a policy (docs/MONITOR.md): chunk t alarms when
  // (-log p / D - monitor_mean[t]) / monitor_scale[t] > monitor_quantile (t past the end: the last entry).
  bool monitor = false;
  std::vector<double> monitor_mean, monitor_scale;
  double monitor_quantile = 0, monitor_alpha = 0;
  // Normalization: obs_n = (obs - obs_mean) / obs_std; action = x * action_std + action_mean.
  std::vector<float> obs_mean, obs_std, action_mean, action_std;
  // 1 / std, rounded once: normalizing multiplies by it, exactly as nfp::Normalizer does ((x - c) * inv_scale).
  std::vector<float> obs_inv_std, action_inv_std;
};

// Loads a .nfpr file; throws LoadError with one line naming the file and what is wrong.
// weights: the storage of the conditioners' Linear weights (f32 as exported, or rounded to bf16 / int8).
Model load_model(const std::string& path, WeightType weights = WeightType::F32);

// "f32" (or "") | "bf16" | "int8"; anything else throws LoadError naming the accepted values.
WeightType parse_weight_type(const std::string& name);
// Re-stores the coupling conditioners' Linear weights as t (model_quantize.cpp); sets m.weights.
void quantize_conditioners(Model& m, WeightType t);

}  // namespace nfp::rt
