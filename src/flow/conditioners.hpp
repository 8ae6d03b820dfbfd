// The conditioner implementations (private to src/flow; use make_conditioner).
#pragma once
#include "nfp/conditioner.hpp"

namespace nfp {

class MlpConditionerImpl : public ConditionerImpl {
 public:
  MlpConditionerImpl(const ConditionerConfig& config, const ConditionerShape& shape);
  torch::Tensor forward(const torch::Tensor& x_cond, const torch::Tensor& ctx) override;

 private:
  ConditionerShape shape_;
  torch::nn::Sequential body_;
  torch::nn::Linear out_{nullptr};
};

// Multi-head attention with separate query and key/value inputs (no mask, no bias on the softmax).
class AttentionImpl : public torch::nn::Module {
 public:
  AttentionImpl(int64_t dim, int64_t heads);
  // q_in (B x Nq x H), kv_in (B x Nk x H) -> (B x Nq x H)
  torch::Tensor forward(const torch::Tensor& q_in, const torch::Tensor& kv_in);

 private:
  int64_t heads_;
  torch::nn::Linear q_{nullptr}, kv_{nullptr}, out_{nullptr};
};
TORCH_MODULE(Attention);

// NinA-Transformer conditioner: the untouched time steps of an action chunk are tokens of A features.
class TransformerConditionerImpl : public ConditionerImpl {
 public:
  TransformerConditionerImpl(const ConditionerConfig& config, const ConditionerShape& shape);
  torch::Tensor forward(const torch::Tensor& x_cond, const torch::Tensor& ctx) override;

 private:
  struct Block {
    torch::nn::LayerNorm ln_self{nullptr}, ln_cross{nullptr}, ln_ff{nullptr};
    Attention self_attn{nullptr}, cross_attn{nullptr};
    torch::nn::Sequential ff{nullptr};
  };
  ConditionerShape shape_;
  int64_t tokens_in_, tokens_out_, tokens_;
  torch::nn::Linear input_proj_{nullptr}, context_proj_{nullptr};
  torch::Tensor pad_tokens_, positional_;  // (tokens - tokens_in x H), (tokens x H)
  std::vector<Block> blocks_;
  torch::nn::LayerNorm final_ln_{nullptr};
  std::vector<torch::nn::Sequential> heads_;
};

}  // namespace nfp
