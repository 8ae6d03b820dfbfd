// NinA-Transformer conditioner. Tokens = the untouched time steps (A features each) projected to H; each
// block is pre-LN self-attention + residual, then pre-LN cross-attention to the context tokens + residual
// (with one context vector this reduces to a per-sample additive bias, as in NinA), optionally a GELU
// feed-forward; then LayerNorm and per-group heads Linear(H->2H) -> GELU -> Dropout -> Linear(2H -> A*P/groups)
// read the parameters of the transformed time step at the same position. When the two halves have different
// lengths (odd T) the shorter input is padded with learned tokens.
#include "flow/conditioners.hpp"
#include "nfp/error.hpp"

#include <cmath>

namespace nfp {

AttentionImpl::AttentionImpl(int64_t dim, int64_t heads) : heads_(heads) {
  require(heads >= 1 && dim % heads == 0, "transformer conditioner: hidden (" + std::to_string(dim) +
                                              ") must be a multiple of heads (" + std::to_string(heads) + ")");
  q_ = register_module("q", torch::nn::Linear(dim, dim));
  kv_ = register_module("kv", torch::nn::Linear(dim, 2 * dim));
  out_ = register_module("out", torch::nn::Linear(dim, dim));
}

torch::Tensor AttentionImpl::forward(const torch::Tensor& q_in, const torch::Tensor& kv_in) {
  const int64_t B = q_in.size(0), Nq = q_in.size(1), Nk = kv_in.size(1), H = q_in.size(2), d = H / heads_;
  auto q = q_->forward(q_in).view({B, Nq, heads_, d}).transpose(1, 2);    // (B x h x Nq x d)
  auto kv = kv_->forward(kv_in).view({B, Nk, 2, heads_, d});
  auto k = kv.select(2, 0).transpose(1, 2), v = kv.select(2, 1).transpose(1, 2);  // (B x h x Nk x d)
  auto attn = torch::softmax(torch::matmul(q, k.transpose(-2, -1)) / std::sqrt(double(d)), -1);
  auto o = torch::matmul(attn, v).transpose(1, 2).reshape({B, Nq, H});
  return out_->forward(o);
}

TransformerConditionerImpl::TransformerConditionerImpl(const ConditionerConfig& c, const ConditionerShape& s)
    : shape_(s) {
  const int64_t A = s.token_dim, H = c.hidden, P = s.params_per_dim;
  require(A > 0 && s.cond_dim % A == 0 && s.trans_dim % A == 0,
          "transformer conditioner: the coupling must split whole time steps of " + std::to_string(A) +
              " features (set the flow's token count so that dim = tokens x token_dim)");
  require(s.groups >= 1 && P % s.groups == 0, "transformer conditioner: params must split evenly into groups");
  tokens_in_ = s.cond_dim / A;
  tokens_out_ = s.trans_dim / A;
  tokens_ = std::max(tokens_in_, tokens_out_);
  input_proj_ = register_module("input_proj", torch::nn::Linear(A, H));
  if (tokens_ > tokens_in_) pad_tokens_ = register_parameter("pad_tokens", torch::zeros({tokens_ - tokens_in_, H}));
  if (c.positional) positional_ = register_parameter("positional", torch::randn({tokens_, H}) * 0.02);
  if (s.context_dim > 0) context_proj_ = register_module("context_proj", torch::nn::Linear(s.context_dim, H));
  for (int64_t i = 0; i < c.depth; ++i) {
    Block b;
    const std::string p = "block" + std::to_string(i) + "_";
    b.ln_self = register_module(p + "ln_self", torch::nn::LayerNorm(torch::nn::LayerNormOptions({H})));
    b.self_attn = register_module(p + "self_attn", Attention(H, c.heads));
    if (s.context_dim > 0) {
      b.ln_cross = register_module(p + "ln_cross", torch::nn::LayerNorm(torch::nn::LayerNormOptions({H})));
      b.cross_attn = register_module(p + "cross_attn", Attention(H, c.heads));
    }
    if (c.feedforward) {
      b.ln_ff = register_module(p + "ln_ff", torch::nn::LayerNorm(torch::nn::LayerNormOptions({H})));
      b.ff = register_module(p + "ff", torch::nn::Sequential(torch::nn::Linear(H, 4 * H), torch::nn::GELU(),
                                                             torch::nn::Linear(4 * H, H)));
    }
    blocks_.push_back(b);
  }
  final_ln_ = register_module("final_ln", torch::nn::LayerNorm(torch::nn::LayerNormOptions({H})));
  for (int64_t g = 0; g < s.groups; ++g) {
    auto last = torch::nn::Linear(2 * H, A * P / s.groups);
    if (c.zero_init) {
      torch::NoGradGuard ng;
      last->weight.zero_();
      last->bias.zero_();
    }
    heads_.push_back(register_module("head" + std::to_string(g),
                                     torch::nn::Sequential(torch::nn::Linear(H, 2 * H), torch::nn::GELU(),
                                                           torch::nn::Dropout(c.dropout), last)));
  }
}

torch::Tensor TransformerConditionerImpl::forward(const torch::Tensor& x_cond, const torch::Tensor& ctx) {
  const int64_t B = x_cond.size(0), A = shape_.token_dim, P = shape_.params_per_dim;
  auto h = input_proj_->forward(x_cond.view({B, tokens_in_, A}));  // (B x Tc x H)
  if (pad_tokens_.defined()) h = torch::cat({h, pad_tokens_.unsqueeze(0).expand({B, -1, -1})}, 1);
  if (positional_.defined()) h = h + positional_;
  torch::Tensor c;
  if (shape_.context_dim > 0) {
    require(ctx.defined(), "this flow is conditional but no context was given");
    c = context_proj_->forward(ctx.dim() == 2 ? ctx.unsqueeze(1) : ctx);  // (B x N x H)
  }
  for (auto& b : blocks_) {
    auto n = b.ln_self->forward(h);
    h = h + b.self_attn->forward(n, n);
    if (c.defined()) h = h + b.cross_attn->forward(b.ln_cross->forward(h), c);
    if (b.ff) h = h + b.ff->forward(b.ln_ff->forward(h));
  }
  h = final_ln_->forward(h).narrow(1, 0, tokens_out_);  // (B x Tt x H)
  std::vector<torch::Tensor> groups;
  for (auto& head : heads_) groups.push_back(head->forward(h).view({B, tokens_out_, A, -1}));
  // (B x Tt x A x P) -> (B x Dt x P)
  return torch::cat(groups, -1).view({B, shape_.trans_dim, P});
}

}  // namespace nfp
