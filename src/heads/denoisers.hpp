// The networks of the diffusion and flow-matching heads: eps / velocity = net(x_t, t, ctx).
#pragma once
#include <torch/torch.h>

#include "nfp/action_head.hpp"

namespace nfp {

class DenoiserImpl : public torch::nn::Module {
 public:
  // x (B x H x A), t (B) float time (diffusion: step index; flow matching: 100 t), ctx (B x C) -> (B x H x A)
  virtual torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& t, const torch::Tensor& ctx) = 0;
};
using Denoiser = std::shared_ptr<DenoiserImpl>;

// The options the denoiser reads (denoiser, down_dims, kernel; the MLP also layers and hidden), their defaults
// and value checks, shared by the diffusion and flow-matching entries.
std::vector<std::string> denoiser_options();
void set_denoiser_defaults(HeadConfig& c);
void check_denoiser(const HeadConfig& c);

// config.denoiser: "unet" (Diffusion Policy's ConditionalUnet1D, FiLM) or "mlp"; otherwise nfp::Error.
Denoiser make_denoiser(const HeadConfig& config);
Denoiser make_conv_unet(const HeadConfig& config);

// Transformer-style sinusoidal embedding of t (B) -> (B x dim), dim even.
torch::Tensor sinusoidal_embedding(const torch::Tensor& t, int64_t dim);

}  // namespace nfp
