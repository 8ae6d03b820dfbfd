#include "denoisers.hpp"

#include <cmath>

#include "nfp/error.hpp"
#include "nfp/mlp_blocks.hpp"

namespace nfp {

torch::Tensor sinusoidal_embedding(const torch::Tensor& t, int64_t dim) {
  const int64_t half = dim / 2;
  auto freqs = torch::exp(torch::arange(half, t.options().dtype(torch::kFloat32)) * (-std::log(10000.0) / double(half - 1)));
  auto args = t.to(torch::kFloat32).unsqueeze(1) * freqs.unsqueeze(0);
  return torch::cat({args.sin(), args.cos()}, 1);
}

namespace {

// MLP denoiser: cat(flattened x_t, time embedding, ctx) -> [Linear -> LayerNorm -> Mish] x layers -> Linear.
class MlpDenoiserImpl : public DenoiserImpl {
 public:
  explicit MlpDenoiserImpl(const HeadConfig& c) : c_(c) {
    time_mlp_ = register_module("time_mlp", torch::nn::Sequential(torch::nn::Linear(kTimeDim, 4 * kTimeDim),
                                                                   torch::nn::Mish(),
                                                                   torch::nn::Linear(4 * kTimeDim, kTimeDim)));
    append_mlp(net_, c.horizon * c.action_dim + kTimeDim + c.context_dim, c.hidden, c.layers, c.horizon * c.action_dim,
               MlpActivation::mish);
    register_module("net", net_);
  }

  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& t, const torch::Tensor& ctx) override {
    auto temb = time_mlp_->forward(sinusoidal_embedding(t, kTimeDim));
    auto h = torch::cat({x.reshape({x.size(0), -1}), temb, ctx}, 1);
    return net_->forward(h).view(x.sizes());
  }

 private:
  static constexpr int64_t kTimeDim = 64;
  HeadConfig c_;
  torch::nn::Sequential time_mlp_{nullptr}, net_;
};

}  // namespace

std::vector<std::string> denoiser_options() { return {"denoiser", "down_dims", "kernel"}; }

void set_denoiser_defaults(HeadConfig& c) {
  c.denoiser = "unet";         // Diffusion Policy's 1-D conv UNet (FiLM); "mlp" trains faster on a CPU
  c.down_dims = {32, 64, 128};  // UNet widths per level (CPU-sized; GPU: 256, 512, 1024)
  c.kernel = 5;                 // UNet conv kernel
}

void check_denoiser(const HeadConfig& c) {
  require(c.denoiser == "unet" || c.denoiser == "mlp",
          "head '" + c.type + "': unknown denoiser " + quoted_value(c.denoiser) + "; known: unet, mlp");
  if (c.denoiser != "unet") return;  // the MLP reads layers and hidden (checked for every head)
  require(!c.down_dims.empty() && c.kernel >= 1 && c.kernel % 2 == 1,
          "unet denoiser: down_dims must be non-empty and kernel odd");
  for (auto d : c.down_dims) require(d >= 8 && d % 8 == 0, "unet denoiser: every down_dims entry must be a multiple of 8");
}

Denoiser make_denoiser(const HeadConfig& c) {
  if (c.denoiser == "mlp") return std::make_shared<MlpDenoiserImpl>(c);
  if (c.denoiser == "unet") return make_conv_unet(c);
  throw Error("head '" + c.type + "': unknown denoiser " + quoted_value(c.denoiser) + "; known: unet, mlp");
}

}  // namespace nfp
