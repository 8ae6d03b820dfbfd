// Flows with random (non-trivial) weights exported to .nfpr, for the runtime tests.
#pragma once
#include <filesystem>
#include <functional>
#include <string>

#include "nfp/flow.hpp"
#include "nfp/policy.hpp"
#include "nfp/runtime.hpp"
#include "nfp/export.hpp"

namespace nfp::test {

struct RuntimeCase {
  std::string name;
  FlowConfig config;
  int64_t context_tokens = 1;
};

// Every head type: affine + MLP (separate nets, PLU, ActNorm), affine + MLP (joint net), affine + transformer
// (context tokens, positional, feed-forward, odd T), spline + MLP, spline + transformer, unconditional.
std::vector<RuntimeCase> runtime_cases();

// A flow of `c` with every weight perturbed (zero-initialised layers, ActNorm and pad tokens included) so no
// layer is the identity; eval mode.
Flow random_flow(const FlowConfig& c, uint64_t seed);

// A small policy (obs keys pos (3) and goal (2), history 2, horizon 4, 3-d actions; or push-two-goals'
// shapes) with a flow head of type `head`, every weight perturbed (no identity layer), a normalizer mixing
// mean-std, identity and min-max keys; eval mode.
Policy random_policy(const std::string& head, bool prev_action, bool push_task = false);

// Normalizer statistics over [lo, hi] with a mean and std off-centre, so no mode is the identity by accident.
KeyStats key_stats(NormMode mode, std::vector<double> lo, std::vector<double> hi);

std::filesystem::path temp_path(const std::string& name);

// A policy with camera and / or instruction encoders (3-d actions, horizon 4, context 10; small nets), every weight
// perturbed, eval mode; the weights depend on the case alone.
struct EncoderCase {
  std::string name;
  std::string head = "nfp-spline";
  std::vector<std::string> cameras;  // empty: no images
  std::string encoder = "conv", pool = "flatten";
  bool shared = true;
  double width = 0.25;  // resnet18
  int64_t hw = 20, camera_hw = 0, resize = 0;  // encoder input; camera size (0: = hw); resize (0: none)
  bool instruction = false, tokens = false, attention_pool = true;
  int64_t word_layers = 1;
  bool prev_action = true, state = true;
  int64_t history = 2;
};
// Every encoder kind the runtime runs: conv with each pooling (shared, per-camera), a resize + crop, ResNet-18 at two
// widths, the instruction encoder (attention / mean pooling, with and without blocks), its tokens for
// nina-transformer, and cameras with an instruction together.
std::vector<EncoderCase> encoder_cases();
Policy encoder_policy(const EncoderCase& e);
// A deterministic pseudo-random (h x w x 3) image.
Image random_image(int64_t h, int64_t w, uint64_t seed);

// Rewrites the exported .nfpr at `path` with its runtime config edited by `edit`, through write_nfpr, so the
// checksum matches and the loader reaches the edited config.
void edit_nfpr(const std::filesystem::path& path, const std::function<void(json&)>& edit);

// `flow` exported with the case's context tokens to a temporary .nfpr (`name`), loaded at the `weights`
// precision, the file removed (a loaded model keeps all it needs).
runtime::Model load_exported(Flow flow, const RuntimeCase& tc, const std::string& name,
                             const std::string& weights = "f32");

// The flow's context for n samples of one observation obs (N*C floats): (n x C), (n x N x C), or undefined
// for an unconditional case.
torch::Tensor case_context(const torch::Tensor& obs, const RuntimeCase& tc, int64_t n);

}  // namespace nfp::test
