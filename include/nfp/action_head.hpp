// Action heads: the decoder from an observation embedding (context) to an action chunk, one interface for
// flow heads (NinA-MLP, NinA-Transformer, NF-P spline) and the baselines (diffusion, flow matching,
// regression). Heads work on normalized actions in [-1, 1]; the policy (nfp/policy.hpp) normalizes.
//   auto head = nfp::make_head(nfp::default_head_config("nina-mlp", /*horizon*/ 16, /*A*/ 2, /*C*/ 256));
//   torch::Tensor loss = head->loss(actions /*(B x H x A)*/, ctx /*(B x C)*/, gen);
//   nfp::HeadSample s = head->sample(ctx, /*n*/ 4, {}, gen);   // s.actions (B*4 x H x A)
#pragma once
#include <torch/torch.h>

#include <optional>
#include <string>
#include <vector>

#include "nfp/head_registry.hpp"
#include "nfp/json_io.hpp"

namespace nfp {

// One struct for every head's options; each head reads only its own keys (head_options(type)) and its file sets
// their defaults (default_head_config). JSON round-trips through to_json/from_json.
// The member initializers below are what checkpoints written before the registry stored for the keys of OTHER
// heads (from_json accepts such a key only with that value): changing one breaks loading those checkpoints.
struct HeadConfig {
  std::string type = "nina-mlp";  // nina-mlp | nina-transformer | nfp-spline | diffusion | flow-matching | regression
  int64_t horizon = 16;           // H, action steps per chunk
  int64_t action_dim = 0;         // A
  int64_t context_dim = 0;        // C, the encoder's output width
  uint64_t seed = 0;              // flow permutations / PLU initialisation
  // network size: flow coupling layers / denoiser or regressor hidden layers, and their width
  int64_t layers = 6;
  int64_t hidden = 128;
  // flow heads
  bool plu = true;                // PLU linear after each coupling (NinA use_plu)
  double action_noise = 0.05;     // sigma_a: Gaussian noise on the normalized training chunk, then clamp (NinA)
  double sigma = 1.0;             // default sampling std of the base Gaussian
  int64_t bins = 10;              // spline bins (nfp-spline)
  double bound = 3.0;             // spline bound (normalized units)
  int64_t depth = 2;              // transformer blocks per conditioner (nina-transformer)
  int64_t heads = 4;              // attention heads (nina-transformer)
  double dropout = 0.0;           // transformer output-head dropout (NinA: 0.1)
  // diffusion and flow matching
  std::string denoiser = "unet";  // "unet" (Diffusion Policy 1-D conv UNet, FiLM) | "mlp"
  std::vector<int64_t> down_dims = {32, 64, 128};  // UNet widths per level (CPU-sized; GPU: 256, 512, 1024)
  int64_t kernel = 5;             // UNet conv kernel
  int64_t train_steps = 100;      // diffusion: DDPM steps (squared-cosine schedule)
  int64_t infer_steps = 10;       // diffusion: sampling steps; flow matching: Euler steps
  std::string sampler = "ddim";   // diffusion: "ddim" (eta 0) | "ddpm"
};

// Writes the common keys and only head c.type's options.
void to_json(json& j, const HeadConfig& c);
// Starts from default_head_config(j["type"]), then reads the common keys and the head's options and checks
// their values. A key of no head, or a key of another head with a value other than its default here (old
// checkpoints stored every key), throws nfp::Error naming the head and its keys.
void from_json(const json& j, HeadConfig& c);

// Defaults for `type` (Error listing the names if unknown) with the given shapes.
HeadConfig default_head_config(const std::string& type, int64_t horizon = 16, int64_t action_dim = 0,
                               int64_t context_dim = 0);

struct SampleOptions {
  double sigma = -1;       // flow heads: base std (< 0: the head's configured sigma)
  int64_t steps = 0;       // diffusion / flow matching: sampling steps (0: the configured infer_steps)
  std::string sampler;     // diffusion: "ddim" | "ddpm" (empty: configured)
  // Empty: every draw comes from the generator passed to sample(). Otherwise one generator per context row: row
  // b's samples draw all their noise from row_generators[b], so a row's chunk does not depend on the rows batched
  // with it (a server planning several clients' chunks in one pass gives each the chunk it would get alone).
  std::vector<at::Generator> row_generators;
};

// Standard normal noise for sample(): (B*n x sample_shape...), context row b's n samples at rows b*n .. b*n+n-1,
// drawn as the SampleOptions say (from `gen`, or row b's block from options.row_generators[b]).
torch::Tensor sample_noise(int64_t B, int64_t n, at::IntArrayRef sample_shape, const SampleOptions& options,
                           at::Generator& gen, const torch::TensorOptions& tensor_options);

struct HeadSample {
  torch::Tensor actions;   // (B*n x H x A), the n samples of context row b at rows b*n .. b*n+n-1
  torch::Tensor log_prob;  // (B*n) log p(actions | ctx) for flow heads; undefined otherwise
};

class ActionHeadImpl : public torch::nn::Module {
 public:
  // Training loss of normalized chunks: actions (B x H x A), ctx (B x C) -> scalar.
  virtual torch::Tensor loss(const torch::Tensor& actions, const torch::Tensor& ctx, at::Generator& gen) = 0;
  // Validation figure (flows: mean NLL of the clean chunk, nats per chunk; others: the training loss).
  virtual torch::Tensor validation_loss(const torch::Tensor& actions, const torch::Tensor& ctx, at::Generator& gen) {
    return loss(actions, ctx, gen);
  }
  // n chunks per context row. Not clamped: the policy clamps to [-1, 1] before acting.
  virtual HeadSample sample(const torch::Tensor& ctx, int64_t n, const SampleOptions& options, at::Generator& gen) = 0;
  // Flow heads only: exact log p(actions | ctx), actions (B x H x A) -> (B). Others throw nfp::Error.
  virtual bool has_log_prob() const { return false; }
  virtual torch::Tensor log_prob(const torch::Tensor& actions, const torch::Tensor& ctx);
  virtual const HeadConfig& config() const = 0;
};
using ActionHead = std::shared_ptr<ActionHeadImpl>;

// Creates a head by config.type after checking its values; an unknown name throws nfp::Error listing head_names().
ActionHead make_head(const HeadConfig& config);

}  // namespace nfp
