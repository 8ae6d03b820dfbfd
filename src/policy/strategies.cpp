// Inference strategies (NF-P section "inference"; TarFlow's denoising step). All run on normalized chunks.
#include <algorithm>
#include <cmath>

#include "nfp/error.hpp"
#include "nfp/policy.hpp"

namespace nfp {

std::vector<std::string> strategy_names() { return {"sample", "sbs", "gr", "denoise"}; }

void check_strategy(const std::string& strategy, const ActionHeadImpl& head) {
  const auto names = strategy_names();
  std::string known;
  for (const auto& n : names) (known += known.empty() ? "" : ", ") += n;
  require(std::find(names.begin(), names.end(), strategy) != names.end(),
          "unknown strategy " + quoted(strategy) + "; known: " + known);
  require(strategy == "sample" || head.has_log_prob(),
          "strategy " + quoted(strategy) + " needs a likelihood, which head " + quoted(head.config().type) +
              " does not have; use --strategy sample or a flow head");
}

namespace {

// Rows of `a` (B x ...) where `take` (B) is true, else rows of `b`.
torch::Tensor where_rows(const torch::Tensor& take, const torch::Tensor& a, const torch::Tensor& b) {
  auto shape = std::vector<int64_t>(size_t(a.dim()), 1);
  shape[0] = a.size(0);
  return torch::where(take.view(shape), a, b);
}

StrategyResult gradient_refinement(ActionHeadImpl& head, const torch::Tensor& ctx, const HeadSample& s,
                                   const InferenceOptions& o) {
  torch::AutoGradMode grad_on(true);
  const double b1 = 0.9, b2 = 0.999, eps = 1e-8;
  auto a = s.actions.detach().clone();
  auto best = a.clone(), best_lp = s.log_prob.detach().clone();
  auto m = torch::zeros_like(a), v = torch::zeros_like(a);
  for (int64_t k = 1; k <= o.gr_steps; ++k) {
    auto x = a.detach().requires_grad_(true);
    auto lp = head.log_prob(x, ctx);
    auto g = -torch::autograd::grad({lp.sum()}, {x})[0];  // descend -log p
    if (k > 1) {  // lp is log p(a_{k-1}); a_0's is s.log_prob
      auto better = lp.detach() > best_lp;
      best = where_rows(better, a, best);
      best_lp = torch::where(better, lp.detach(), best_lp);
    }
    m = b1 * m + (1 - b1) * g;
    v = b2 * v + (1 - b2) * g * g;
    const double c1 = 1 - std::pow(b1, double(k)), c2 = 1 - std::pow(b2, double(k));
    a = a - o.gr_lr * (m / c1) / ((v / c2).sqrt() + eps);
  }
  torch::NoGradGuard ng;
  auto lp = head.log_prob(a, ctx);
  auto better = lp > best_lp;
  return {where_rows(better, a, best), torch::where(better, lp, best_lp)};
}

StrategyResult denoise_step(ActionHeadImpl& head, const torch::Tensor& ctx, const HeadSample& s) {
  const double sa = head.config().action_noise;
  torch::Tensor a1;
  {
    torch::AutoGradMode grad_on(true);
    auto x = s.actions.detach().requires_grad_(true);
    auto g = torch::autograd::grad({head.log_prob(x, ctx).sum()}, {x})[0];
    a1 = (s.actions.detach() + sa * sa * g).detach();
  }
  torch::NoGradGuard ng;
  return {a1, head.log_prob(a1, ctx)};
}

}  // namespace

StrategyResult run_strategy(ActionHeadImpl& head, const torch::Tensor& ctx_in, const InferenceOptions& o,
                            at::Generator& gen, const std::vector<at::Generator>& row_generators) {
  check_strategy(o.strategy, head);
  const auto ctx = ctx_in.detach();
  SampleOptions so;
  so.sigma = o.sigma;
  so.steps = o.steps;
  so.sampler = o.sampler;
  so.row_generators = row_generators;
  if (o.strategy == "sbs") {
    require(o.candidates >= 1, "sbs: candidates must be >= 1");
    torch::NoGradGuard ng;
    const int64_t B = ctx.size(0), N = o.candidates;
    auto s = head.sample(ctx, N, so, gen);
    auto lp = s.log_prob.view({B, N});
    auto idx = lp.argmax(1);  // (B)
    auto rows = torch::arange(B, idx.options()) * N + idx;
    // The candidates' spread in log p (std over N; 0 for one): how much the likelihood disagrees with itself here.
    auto spread = N > 1 ? lp.std(1, /*unbiased*/ false) : torch::zeros({B}, lp.options());
    return {s.actions.index_select(0, rows), lp.gather(1, idx.unsqueeze(1)).squeeze(1), spread};
  }
  HeadSample s;
  {
    torch::NoGradGuard ng;
    s = head.sample(ctx, 1, so, gen);
  }
  if (o.strategy == "gr") {
    require(o.gr_steps >= 0 && o.gr_lr > 0, "gr: steps must be >= 0 and the step size > 0");
    return gradient_refinement(head, ctx, s, o);
  }
  if (o.strategy == "denoise") return denoise_step(head, ctx, s);
  return {s.actions, s.log_prob};
}

}  // namespace nfp
