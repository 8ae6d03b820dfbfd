// Flow-matching head (rectified flow, as FLOWER and pi0): z_t = (1 - t) a + t eps with t ~ U(0, 1), the
// network regresses the velocity dz/dt = eps - a; sampling integrates from t = 1 (noise) to t = 0 with K
// Euler steps. The network is the diffusion head's denoiser (unet or mlp), fed 100 t as its time.
#include "denoisers.hpp"
#include "heads_internal.hpp"
#include "nfp/error.hpp"

namespace nfp {
namespace {

class FlowMatchingHeadImpl : public ActionHeadImpl {
 public:
  explicit FlowMatchingHeadImpl(const HeadConfig& c) : config_(c) {
    net_ = register_module("denoiser", make_denoiser(c));
  }

  torch::Tensor loss(const torch::Tensor& actions, const torch::Tensor& ctx, at::Generator& gen) override {
    check_chunk(config_, actions, "loss");
    check_context(config_, ctx);
    const int64_t B = actions.size(0);
    auto t = at::rand({B}, gen, actions.options());
    auto eps = at::randn(actions.sizes(), gen, actions.options());
    auto tt = t.view({B, 1, 1});
    auto zt = (1 - tt) * actions + tt * eps;
    return torch::mse_loss(net_->forward(zt, kTimeScale * t, ctx), eps - actions);
  }

  HeadSample sample(const torch::Tensor& ctx, int64_t n, const SampleOptions& o, at::Generator& gen) override {
    check_context(config_, ctx);
    const int64_t K = o.steps > 0 ? o.steps : config_.infer_steps;
    auto c = n == 1 ? ctx : ctx.repeat_interleave(n, 0);
    const int64_t B = c.size(0);
    auto z = sample_noise(ctx.size(0), n, {config_.horizon, config_.action_dim}, o, gen, c.options());
    const double dt = 1.0 / double(K);
    for (int64_t k = 0; k < K; ++k) {
      const double t = 1.0 - double(k) * dt;
      z = z - dt * net_->forward(z, torch::full({B}, kTimeScale * t, c.options()), c);
    }
    return {z, {}};
  }

  const HeadConfig& config() const override { return config_; }

 private:
  static constexpr double kTimeScale = 100.0;  // spreads t over the sinusoidal embedding's frequencies
  HeadConfig config_;
  Denoiser net_;
};

}  // namespace

HeadEntry flow_matching_head_entry() {
  HeadEntry e;
  e.traits.name = "flow-matching";
  e.traits.has_sampling_steps = true;
  e.options = denoiser_options();
  e.options.push_back("infer_steps");
  e.set_defaults = [](HeadConfig& c) {
    c.layers = 3;
    c.hidden = 256;
    set_denoiser_defaults(c);
    c.infer_steps = 4;  // Euler steps (FLOWER's)
  };
  e.check = [](const HeadConfig& c) {
    check_denoiser(c);
    require(c.infer_steps >= 1, "flow-matching head: infer_steps must be >= 1");
  };
  e.make = [](const HeadConfig& c) -> ActionHead { return std::make_shared<FlowMatchingHeadImpl>(c); };
  e.train_defaults = {{"steps", 4000}};
  return e;
}

}  // namespace nfp
