// Flow heads: a conditional normalizing flow over the normalized action chunk, flattened (H x A -> D). The
// variants (coupling, conditioner) live in nina_mlp_head.cpp, nina_transformer_head.cpp and nfp_spline_head.cpp.
// Training: a' = clamp(a + sigma_a * eps, -1, 1), loss = -mean log p(a' | ctx) (nats per chunk), as NinA.
#include "flow_head.hpp"

#include <cmath>

#include "nfp/error.hpp"

namespace nfp {
namespace {

class FlowHeadImpl : public ActionHeadImpl {
 public:
  FlowHeadImpl(const HeadConfig& c, const FlowConfig& f) : config_(c), flow_(f) { register_module("flow", flow_); }

  torch::Tensor loss(const torch::Tensor& actions, const torch::Tensor& ctx, at::Generator& gen) override {
    check_chunk(config_, actions, "loss");
    check_context(config_, ctx);
    auto a = actions.reshape({actions.size(0), -1});
    if (config_.action_noise > 0)
      a = (a + config_.action_noise * at::randn(a.sizes(), gen, a.options())).clamp(-1.0, 1.0);
    return -flow_->log_prob(a, ctx).mean();
  }

  torch::Tensor validation_loss(const torch::Tensor& actions, const torch::Tensor& ctx, at::Generator&) override {
    return -log_prob(actions, ctx).mean();
  }

  HeadSample sample(const torch::Tensor& ctx, int64_t n, const SampleOptions& o, at::Generator& gen) override {
    check_context(config_, ctx);
    const double sigma = o.sigma >= 0 ? o.sigma : config_.sigma;
    require(n >= 1 && std::isfinite(sigma), "flow head: sample needs n >= 1 and a finite sigma");
    const int64_t B = ctx.size(0), D = config_.horizon * config_.action_dim;
    auto z = sample_noise(B, n, {D}, o, gen, ctx.options()) * sigma;
    auto s = flow_->sample_from(z, n == 1 ? ctx : ctx.repeat_interleave(n, 0));
    return {s.x.view({s.x.size(0), config_.horizon, config_.action_dim}), s.log_prob};
  }

  bool has_log_prob() const override { return true; }

  torch::Tensor log_prob(const torch::Tensor& actions, const torch::Tensor& ctx) override {
    check_chunk(config_, actions, "log_prob");
    check_context(config_, ctx);
    return flow_->log_prob(actions.reshape({actions.size(0), -1}), ctx);
  }

  const HeadConfig& config() const override { return config_; }

 private:
  HeadConfig config_;
  Flow flow_;
};

}  // namespace

std::vector<std::string> flow_head_options() { return {"plu", "action_noise", "sigma"}; }

void set_flow_head_defaults(HeadConfig& c) {
  c.plu = true;
  c.action_noise = 0.05;
  c.sigma = 1.0;
}

void check_flow_head(const HeadConfig& c) {
  require(c.action_noise >= 0 && c.sigma >= 0, "flow head: action_noise and sigma must be >= 0");
}

FlowConfig base_flow_config(const HeadConfig& c) {
  FlowConfig f;
  f.dim = c.horizon * c.action_dim;
  f.context_dim = c.context_dim;
  f.layers = c.layers;
  f.plu = c.plu;
  f.permutation = "random";
  f.seed = c.seed;
  f.conditioner.hidden = c.hidden;
  f.conditioner.depth = 2;
  return f;
}

ActionHead make_flow_head(const HeadConfig& c, const FlowConfig& f) {
  require(f.dim >= 2, "flow head: horizon x action_dim must be >= 2");
  return std::make_shared<FlowHeadImpl>(c, f);
}

}  // namespace nfp
