// Regression head: an MLP from the context to the chunk, trained with MSE. Deterministic: every sample of a
// context row is the same chunk, so on bimodal demonstrations it predicts their average.
#include "heads_internal.hpp"
#include "nfp/mlp_blocks.hpp"

namespace nfp {
namespace {

class RegressionHeadImpl : public ActionHeadImpl {
 public:
  explicit RegressionHeadImpl(const HeadConfig& c) : config_(c) {
    append_mlp(net_, c.context_dim, c.hidden, c.layers, c.horizon * c.action_dim, MlpActivation::gelu);
    register_module("net", net_);
  }

  torch::Tensor loss(const torch::Tensor& actions, const torch::Tensor& ctx, at::Generator&) override {
    check_chunk(config_, actions, "loss");
    check_context(config_, ctx);
    return torch::mse_loss(predict(ctx), actions);
  }

  HeadSample sample(const torch::Tensor& ctx, int64_t n, const SampleOptions&, at::Generator&) override {
    check_context(config_, ctx);
    auto a = predict(ctx);
    return {n == 1 ? a : a.repeat_interleave(n, 0), {}};
  }

  const HeadConfig& config() const override { return config_; }

 private:
  torch::Tensor predict(const torch::Tensor& ctx) {
    return net_->forward(ctx).view({ctx.size(0), config_.horizon, config_.action_dim});
  }
  HeadConfig config_;
  torch::nn::Sequential net_;
};

}  // namespace

HeadEntry regression_head_entry() {
  HeadEntry e;
  e.traits.name = "regression";
  e.set_defaults = [](HeadConfig& c) {  // reads only layers and hidden
    c.layers = 3;
    c.hidden = 256;
  };
  e.check = [](const HeadConfig&) {};
  e.make = [](const HeadConfig& c) -> ActionHead { return std::make_shared<RegressionHeadImpl>(c); };
  return e;
}

}  // namespace nfp
