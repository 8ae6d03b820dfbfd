// Diffusion head (Diffusion Policy): DDPM training with `train_steps` steps of the squared-cosine schedule
// (diffusers "squaredcos_cap_v2"), epsilon prediction; sampling with DDPM or DDIM (eta 0) over `infer_steps`
// evenly spaced steps, the predicted clean chunk clipped to [-1, 1] at each step (clip_sample).
#include <cmath>

#include "denoisers.hpp"
#include "heads_internal.hpp"
#include "nfp/error.hpp"

namespace nfp {
namespace {

// alpha_bar_t for t = 0 .. T-1 from betas_t = min(1 - abar(t+1)/abar(t), 0.999), abar(s) = cos^2((s/T + .008)/1.008 pi/2)
std::vector<double> squared_cosine_alpha_bars(int64_t T) {
  auto f = [&](double s) {
    const double v = std::cos((s / double(T) + 0.008) / 1.008 * M_PI / 2);
    return v * v;
  };
  std::vector<double> ab(static_cast<size_t>(T));
  double prod = 1;
  for (int64_t t = 0; t < T; ++t) {
    const double beta = std::min(1 - f(double(t + 1)) / f(double(t)), 0.999);
    prod *= 1 - beta;
    ab[size_t(t)] = prod;
  }
  return ab;
}

class DiffusionHeadImpl : public ActionHeadImpl {
 public:
  // c passed check_diffusion
  explicit DiffusionHeadImpl(const HeadConfig& c) : config_(c), alpha_bars_(squared_cosine_alpha_bars(c.train_steps)) {
    net_ = register_module("denoiser", make_denoiser(c));
    register_buffer("alpha_bars", torch::tensor(alpha_bars_, torch::kFloat64).to(torch::kFloat32));
  }

  torch::Tensor loss(const torch::Tensor& actions, const torch::Tensor& ctx, at::Generator& gen) override {
    check_chunk(config_, actions, "loss");
    check_context(config_, ctx);
    const int64_t B = actions.size(0);
    auto t = at::randint(config_.train_steps, {B}, gen, actions.options().dtype(torch::kLong));  // on its device
    auto ab = named_buffers()["alpha_bars"].index_select(0, t).view({B, 1, 1});
    auto eps = at::randn(actions.sizes(), gen, actions.options());
    auto xt = ab.sqrt() * actions + (1 - ab).sqrt() * eps;
    return torch::mse_loss(net_->forward(xt, t.to(torch::kFloat32), ctx), eps);
  }

  HeadSample sample(const torch::Tensor& ctx, int64_t n, const SampleOptions& o, at::Generator& gen) override {
    check_context(config_, ctx);
    const int64_t steps = o.steps > 0 ? o.steps : config_.infer_steps;
    const std::string sampler = o.sampler.empty() ? config_.sampler : o.sampler;
    require(steps <= config_.train_steps, "diffusion: sampling steps must be <= train_steps (" +
                                              std::to_string(config_.train_steps) + ")");
    require(sampler == "ddim" || sampler == "ddpm", "diffusion: sampler must be ddim or ddpm");
    auto c = n == 1 ? ctx : ctx.repeat_interleave(n, 0);
    const int64_t B = c.size(0);
    auto noise = [&] { return sample_noise(ctx.size(0), n, {config_.horizon, config_.action_dim}, o, gen, c.options()); };
    auto x = noise();
    // evenly spaced steps, descending (diffusers "leading" spacing)
    std::vector<int64_t> ts;
    const int64_t ratio = config_.train_steps / steps;
    for (int64_t i = steps - 1; i >= 0; --i) ts.push_back(i * ratio);
    for (size_t k = 0; k < ts.size(); ++k) {
      const int64_t t = ts[k], prev = k + 1 < ts.size() ? ts[k + 1] : -1;
      const double ab = alpha_bars_[size_t(t)], ab_prev = prev >= 0 ? alpha_bars_[size_t(prev)] : 1.0;
      auto eps = net_->forward(x, torch::full({B}, double(t), c.options()), c);
      auto x0 = ((x - std::sqrt(1 - ab) * eps) / std::sqrt(ab)).clamp(-1.0, 1.0);
      if (sampler == "ddim") {
        auto eps_c = (x - std::sqrt(ab) * x0) / std::sqrt(1 - ab);
        x = std::sqrt(ab_prev) * x0 + std::sqrt(1 - ab_prev) * eps_c;
      } else {
        const double alpha = ab / ab_prev, beta = 1 - alpha;
        auto mean = (std::sqrt(ab_prev) * beta / (1 - ab)) * x0 + (std::sqrt(alpha) * (1 - ab_prev) / (1 - ab)) * x;
        x = mean;
        if (prev >= 0) {
          const double var = std::max((1 - ab_prev) / (1 - ab) * beta, 1e-20);
          x = x + std::sqrt(var) * noise();
        }
      }
    }
    return {x, {}};
  }

  const HeadConfig& config() const override { return config_; }

 private:
  HeadConfig config_;
  std::vector<double> alpha_bars_;
  Denoiser net_;
};

void check_diffusion(const HeadConfig& c) {
  check_denoiser(c);
  require(c.train_steps >= 2 && c.infer_steps >= 1 && c.infer_steps <= c.train_steps,
          "diffusion head: need train_steps >= 2 and 1 <= infer_steps <= train_steps");
  require(c.sampler == "ddim" || c.sampler == "ddpm", "diffusion head: sampler must be ddim or ddpm (got '" + c.sampler + "')");
}

}  // namespace

HeadEntry diffusion_head_entry() {
  HeadEntry e;
  e.traits.name = "diffusion";
  e.traits.has_sampling_steps = true;
  e.options = denoiser_options();
  for (const char* k : {"train_steps", "infer_steps", "sampler"}) e.options.push_back(k);
  e.set_defaults = [](HeadConfig& c) {
    c.layers = 3;  // MLP denoiser option
    c.hidden = 256;
    set_denoiser_defaults(c);
    c.train_steps = 100;  // DDPM steps (squared-cosine schedule)
    c.infer_steps = 10;   // sampling steps
    c.sampler = "ddim";   // "ddim" (eta 0) | "ddpm"
  };
  e.check = check_diffusion;
  e.make = [](const HeadConfig& c) -> ActionHead { return std::make_shared<DiffusionHeadImpl>(c); };
  e.train_defaults = {{"steps", 4000}};
  return e;
}

}  // namespace nfp
