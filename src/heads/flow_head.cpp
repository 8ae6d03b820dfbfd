// Flow heads: a conditional normalizing flow over the normalized action chunk, flattened (H x A -> D).
//   nina-mlp          affine couplings (tanh-bounded scale), separate scale / shift MLPs on cat(half, ctx),
//                     random permutations, optional PLU (NinA's MLP variant)
//   nina-transformer  affine couplings whose conditioner is a Transformer over the chunk's time steps
//   nfp-spline        rational-quadratic spline couplings (NF-P)
// Training: a' = clamp(a + sigma_a * eps, -1, 1), loss = -mean log p(a' | ctx) (nats per chunk), as NinA.
#include "heads_internal.hpp"
#include "nfp/error.hpp"
#include "nfp/flow.hpp"

namespace nfp {
namespace {

FlowConfig flow_config(const HeadConfig& c) {
  FlowConfig f;
  f.dim = c.horizon * c.action_dim;
  f.context_dim = c.context_dim;
  f.layers = c.layers;
  f.plu = c.plu;
  f.permutation = "random";
  f.seed = c.seed;
  f.conditioner.hidden = c.hidden;
  f.conditioner.depth = 2;
  if (c.type == "nina-mlp") {
    f.coupling = "affine";
    f.conditioner.type = "mlp";
    f.separate_nets = true;
  } else if (c.type == "nina-transformer") {
    require(c.horizon >= 2, "nina-transformer needs a horizon >= 2 (it splits the chunk over time)");
    f.coupling = "affine";
    f.conditioner.type = "transformer";
    f.conditioner.depth = c.depth;
    f.conditioner.heads = c.heads;
    f.conditioner.dropout = c.dropout;
    f.tokens = c.horizon;
  } else {
    f.coupling = "spline";
    f.conditioner.type = "mlp";
    f.conditioner.zero_init = true;  // each coupling starts as the identity: stable spline training
    f.spline.bins = c.bins;
    f.spline.bound = c.bound;
  }
  require(f.dim >= 2, "flow head: horizon x action_dim must be >= 2");
  return f;
}

class FlowHeadImpl : public ActionHeadImpl {
 public:
  explicit FlowHeadImpl(const HeadConfig& c) : config_(c), flow_(flow_config(c)) {
    require(c.action_noise >= 0 && c.sigma >= 0, "flow head: action_noise and sigma must be >= 0");
    register_module("flow", flow_);
  }

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
    auto s = flow_->sample(ctx, n, sigma, gen);
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

ActionHead make_flow_head(const HeadConfig& config) { return std::make_shared<FlowHeadImpl>(config); }

}  // namespace nfp
