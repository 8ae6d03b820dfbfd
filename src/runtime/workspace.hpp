// The mutable side (MuJoCo's mjData): every buffer a call needs, sized from the model and max_rows once at
// creation. Calls only index into these vectors; nothing inside a call allocates.
#pragma once
#include <cstdint>
#include <vector>

#include "runtime/model.hpp"

namespace nfp::rt {

// Activations a conditioner keeps for its backward pass (one coupling at a time).
struct MlpTape {
  std::vector<float> pre;     // depth x (R x hidden): Linear output, LayerNorm input
  std::vector<float> normed;  // depth x (R x hidden): LayerNorm output, GELU input
  std::vector<float> act;     // depth x (R x hidden): GELU output
  std::vector<float> stats;   // depth x (R x 2): mean, 1/std
};

struct Workspace {
  const Model* model = nullptr;
  int max_rows = 0;
  // Context for the current call.
  std::vector<float> enc_in;     // (obs_dim) a policy's normalized encoder input
  std::vector<float> ctx;        // (N x C) normalized context tokens
  std::vector<float> pooled;     // (C) mean over the N tokens
  std::vector<float> ctx_cache;  // per net: MLP (hidden) context part of the first Linear; transformer
                                 // (N x H) projected context then per block (N x 2H) cross-attention K/V
  std::vector<size_t> ctx_offset;  // per layer x 2 nets: offset into ctx_cache
  bool context_ready = false;      // ctx and its caches hold a valid observation's (calls with obs = null use it)
  // A policy's encoders (model_encoders.hpp).
  std::vector<float> mlp_in;        // (encoder.in) the state MLP's input
  std::vector<uint8_t> img_resized; // (resize_h x resize_w x 3)
  std::vector<float> img_rows, img_acc;  // the resize's passes: (camera_h x resize_w x 3), (resize_w x 3)
  std::vector<float> maps[3];       // channels-last activation maps, the largest any layer makes
  std::vector<float> cols;          // im2col rows
  std::vector<float> gn_scale, gn_shift, feat;  // (channels), (channels), (pooled: one frame's, flatten aside)
  // The frames of the previous observe, per camera and history slot: their bytes (camera_h x camera_w x 3),
  // features (the largest feature_dim each) and whether the slot holds one (camera_features' cache).
  std::vector<uint8_t> frame_bytes, frame_seen;
  std::vector<float> frame_feat;
  std::vector<float> words, words_n, words_qkv, words_att, words_ff, word_scores;  // (L x {D, D, 3D, D, 2D}), (L)
  std::vector<int> word_ids;        // (max_tokens)
  std::vector<char> word_chars;     // one word being read (longest vocabulary word + 1)
  // Flow state.
  std::vector<float> x, tmp, z;      // (R x D)
  std::vector<float> coef_s, coef_e; // (R x D) affine coupling: tanh(raw), exp(+-tanh(raw))
  std::vector<double> logdet, logp;  // (R)
  std::vector<double> spline_exp;    // (D x 2 bins) one row's spline softmax exponentials
  std::vector<double> spline_tmp;    // (D x 8) one row's spline bins and log-det terms (spline_apply)
  std::vector<int> spline_bin;       // (D) one row's spline bins
  // Conditioner scratch.
  std::vector<float> params[2];  // (R x Dt x P) per net
  std::vector<float> h0, h1;     // MLP: (R x hidden)
  std::vector<float> stats;      // (R*T x 2)
  // Transformer scratch (T = its token count).
  std::vector<float> th, tn, tq, tkv, to, tff, thead, tout;  // (R x T x {H, H, H, 2H, H, 4H, 2H, A P})
  std::vector<float> scores;                                  // (max(T, N))
  // Gradient (GR and log-prob gradients).
  std::vector<float> acts;   // (layers + 1) x (R x D): the input of each layer in the forward pass
  std::vector<float> grad, grad_tmp;  // (R x D)
  std::vector<float> dparams[2];      // (R x Dt x P)
  std::vector<float> dh0, dh1;        // (R x hidden)
  MlpTape tape[2];
  std::vector<float> tf_tape;         // transformer backward: one row's tape and scratch
  std::vector<float> adam_m, adam_v;  // (R x D)
  std::vector<float> action_out;      // (R x D) denormalized actions of the last call
  // W8A8 models only (exec_matmul.cpp): one activation row rounded to int8 (K, padded to a multiple of 4), and
  // the rounded rows of a batched product in f32 (rows x K).
  std::vector<int8_t> q8;
  std::vector<float> q8_rows;

  Workspace(const Model& model, int max_rows);

 private:
  void size_encoders(const Encoder& e);
};

}  // namespace nfp::rt
