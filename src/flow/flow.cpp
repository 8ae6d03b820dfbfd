#include "nfp/flow.hpp"

#include <cmath>

#include "nfp/actnorm.hpp"
#include "nfp/affine_coupling.hpp"
#include "nfp/error.hpp"
#include "nfp/permutation.hpp"
#include "nfp/plu_linear.hpp"
#include "nfp/spline_coupling.hpp"

namespace nfp {

FlowImpl::FlowImpl(const FlowConfig& c) : config_(c) {
  require(c.dim >= 2, "flow: dim must be >= 2 (a coupling splits the features in two)");
  require(c.layers >= 1, "flow: layers must be >= 1");
  const bool tokenized = c.conditioner.type == "transformer";
  int64_t token_dim = 0, cond_dim = c.dim / 2;
  if (tokenized) {
    require(c.tokens >= 2 && c.dim % c.tokens == 0,
            "flow: the transformer conditioner needs tokens >= 2 with dim a multiple of tokens (dim " +
                std::to_string(c.dim) + ", tokens " + std::to_string(c.tokens) + ")");
    token_dim = c.dim / c.tokens;
    cond_dim = (c.tokens / 2) * token_dim;  // split over time steps
  }
  auto gen = at::make_generator<at::CPUGeneratorImpl>(c.seed);
  CouplingOptions co{c.dim, cond_dim, c.context_dim, token_dim, {}};
  auto add = [&](const std::string& name, Transform t) {
    register_module(name + std::to_string(transforms_.size()), t);
    transforms_.push_back(std::move(t));
  };
  for (int64_t i = 0; i < c.layers; ++i) {
    if (c.actnorm) add("actnorm", std::make_shared<ActNormImpl>(c.dim));
    if (c.permutation != "none")
      add("permutation", std::make_shared<PermutationImpl>(c.dim, c.permutation, gen, tokenized ? token_dim : 0));
    if (c.coupling == "affine") {
      add("affine", std::make_shared<AffineCouplingImpl>(co, c.conditioner, c.separate_nets && !tokenized));
    } else if (c.coupling == "spline") {
      add("spline", std::make_shared<SplineCouplingImpl>(co, c.conditioner, c.spline));
    } else {
      throw Error("unknown coupling " + quoted_value(c.coupling) + "; known: affine, spline");
    }
    if (c.plu) add("plu", std::make_shared<PLULinearImpl>(c.dim, gen));
  }
}

TransformResult FlowImpl::forward(const torch::Tensor& x, const torch::Tensor& ctx) {
  require(x.dim() == 2 && x.size(1) == config_.dim,
          "flow: expected data of shape (B x " + std::to_string(config_.dim) + ")");
  torch::Tensor y = x, logdet = torch::zeros({x.size(0)}, x.options());
  for (auto& t : transforms_) {
    auto r = t->forward(y, ctx);
    y = r.y;
    logdet = logdet + r.logdet;
  }
  return {y, logdet};
}

TransformResult FlowImpl::inverse(const torch::Tensor& z, const torch::Tensor& ctx) {
  require(z.dim() == 2 && z.size(1) == config_.dim,
          "flow: expected latents of shape (B x " + std::to_string(config_.dim) + ")");
  torch::Tensor x = z, logdet = torch::zeros({z.size(0)}, z.options());
  for (auto it = transforms_.rbegin(); it != transforms_.rend(); ++it) {
    auto r = (*it)->inverse(x, ctx);
    x = r.y;
    logdet = logdet + r.logdet;
  }
  return {x, logdet};
}

torch::Tensor standard_normal_log_prob(const torch::Tensor& z) {
  return -0.5 * z.square().sum(1) - 0.5 * double(z.size(1)) * std::log(2.0 * M_PI);
}

torch::Tensor FlowImpl::log_prob(const torch::Tensor& x, const torch::Tensor& ctx) {
  auto r = forward(x, ctx);
  return standard_normal_log_prob(r.y) + r.logdet;
}

FlowSample FlowImpl::sample_from(const torch::Tensor& z, const torch::Tensor& ctx) {
  auto r = inverse(z, ctx);
  // log p(x) = log N(z) + log|dz/dx| = log N(z) - log|dx/dz|
  return {r.y, standard_normal_log_prob(z) - r.logdet, z};
}

FlowSample FlowImpl::sample(const torch::Tensor& ctx, int64_t n, double sigma, std::optional<at::Generator> gen) {
  require(n >= 1, "flow: the number of samples must be >= 1");
  require(sigma >= 0 && std::isfinite(sigma), "flow: sigma must be a finite number >= 0");
  torch::Tensor c;
  int64_t rows = n;
  auto opts = parameters().empty() ? torch::TensorOptions() : parameters().front().options();
  if (ctx.defined()) {
    c = n == 1 ? ctx : ctx.repeat_interleave(n, 0);
    rows = c.size(0);
    opts = opts.dtype(ctx.dtype()).device(ctx.device());
  }
  auto z = (gen ? at::randn({rows, config_.dim}, *gen, opts.requires_grad(false))
                : torch::randn({rows, config_.dim}, opts.requires_grad(false))) * sigma;
  return sample_from(z, c);
}

int64_t count_parameters(const torch::nn::Module& module) {
  int64_t n = 0;
  for (const auto& p : module.parameters()) n += p.numel();
  return n;
}

}  // namespace nfp
