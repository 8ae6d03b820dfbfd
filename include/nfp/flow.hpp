// A conditional normalizing flow: base N(0, I) plus an ordered list of transforms.
// log p(x | c) = log N(z; 0, I) + logdet_forward, z = forward(x, c). Sampling with std sigma draws
// z ~ N(0, sigma^2 I) and returns x = inverse(z, c) with its log-likelihood under the model (sigma = 1).
#pragma once
#include <optional>

#include "nfp/conditioner.hpp"
#include "nfp/json_io.hpp"
#include "nfp/rq_spline.hpp"
#include "nfp/transform.hpp"

namespace nfp {

// Every key with its default; JSON {"type": "flow", ...} round-trips through to_json / from_json.
struct FlowConfig {
  int64_t dim = 2;                  // D, features per sample (an action chunk flattened: T x A)
  int64_t context_dim = 0;          // C, 0 = unconditional
  int64_t tokens = 0;               // T when D = T x A (needed by the transformer conditioner); 0 = flat
  std::string coupling = "affine";  // "affine" (NinA) | "spline" (NF-P)
  int64_t layers = 8;               // coupling layers
  ConditionerConfig conditioner;    // the network inside each coupling
  bool separate_nets = true;        // affine + mlp: separate scale and shift networks (NinA-MLP)
  bool plu = false;                 // an invertible PLU linear after each coupling (NinA use_plu)
  bool actnorm = false;             // ActNorm before each layer's permutation
  std::string permutation = "random";  // "random" | "reverse" | "none": before each coupling
  SplineOptions spline;             // spline coupling: bins, bound, minimum bin width/height/derivative
  uint64_t seed = 0;                // draws the permutations and the PLU initialisation
};

void to_json(json& j, const FlowConfig& c);
void from_json(const json& j, FlowConfig& c);  // unknown keys and bad values throw nfp::Error

struct FlowSample {
  torch::Tensor x;         // (B*n x D) samples, sample-major within each context row
  torch::Tensor log_prob;  // (B*n) log p(x | c) under the model
  torch::Tensor z;         // (B*n x D) the latent they came from
};

class FlowImpl : public torch::nn::Module {
 public:
  explicit FlowImpl(const FlowConfig& config);

  // data -> latent: {z, log|det dz/dx|}
  TransformResult forward(const torch::Tensor& x, const torch::Tensor& ctx = {});
  // latent -> data: {x, log|det dx/dz|}
  TransformResult inverse(const torch::Tensor& z, const torch::Tensor& ctx = {});
  // x (B x D), ctx (B x C) / (B x N x C) / undefined -> (B)
  torch::Tensor log_prob(const torch::Tensor& x, const torch::Tensor& ctx = {});
  // n samples per context row (ctx undefined: n samples of the unconditional flow).
  FlowSample sample(const torch::Tensor& ctx, int64_t n, double sigma = 1.0,
                    std::optional<at::Generator> generator = std::nullopt);
  // Maps given latents (B x D) to samples with their log-likelihoods (no randomness).
  FlowSample sample_from(const torch::Tensor& z, const torch::Tensor& ctx);

  const FlowConfig& config() const { return config_; }
  const std::vector<Transform>& transforms() const { return transforms_; }

 private:
  FlowConfig config_;
  std::vector<Transform> transforms_;
};
TORCH_MODULE(Flow);

// log N(z; 0, I) summed over features: z (B x D) -> (B)
torch::Tensor standard_normal_log_prob(const torch::Tensor& z);

int64_t count_parameters(const torch::nn::Module& module);

}  // namespace nfp
