// Conditioners: the networks inside a coupling layer that read the untouched part of x (and the context)
// and give the parameters of the transform applied to the other part.
#pragma once
#include <torch/torch.h>

#include <string>

#include "nfp/json_io.hpp"

namespace nfp {

struct ConditionerConfig {
  std::string type = "mlp";   // "mlp" | "transformer"
  int64_t hidden = 256;       // width (mlp) / model dim (transformer)
  int64_t depth = 2;          // hidden layers (mlp) / attention blocks (transformer)
  bool zero_init = false;     // zero the last layer, so a fresh coupling is the identity
  double dropout = 0.0;       // transformer heads' dropout (NinA: 0.1)
  // transformer only
  int64_t heads = 4;          // attention heads
  bool positional = false;    // learned positional embedding over tokens (NinA: none)
  bool feedforward = false;   // a GELU MLP after attention in each block (NinA: none)
};

void to_json(json& j, const ConditionerConfig& c);
void from_json(const json& j, ConditionerConfig& c);

// What a coupling needs from its conditioner: params (B x trans_dim x params_per_dim).
struct ConditionerShape {
  int64_t cond_dim = 0;        // Dc, features of the untouched part
  int64_t trans_dim = 0;       // Dt, features transformed
  int64_t params_per_dim = 1;  // P
  int64_t context_dim = 0;     // C, 0 = unconditional
  int64_t token_dim = 0;       // A, features per time step (transformer: Dc and Dt are multiples of A)
  int64_t groups = 1;          // output heads (transformer): P params split into `groups` heads, as NinA
                               // gives scale and shift their own head; the MLP ignores it
};

class ConditionerImpl : public torch::nn::Module {
 public:
  // x_cond (B x Dc); ctx (B x C), (B x N x C) or undefined -> params (B x Dt x P)
  virtual torch::Tensor forward(const torch::Tensor& x_cond, const torch::Tensor& ctx) = 0;
};
using Conditioner = std::shared_ptr<ConditionerImpl>;

// Creates a conditioner by type name; an unknown name throws nfp::Error listing the names.
Conditioner make_conditioner(const ConditionerConfig& config, const ConditionerShape& shape);

// (B x C) stays; (B x N x C) is mean-pooled to (B x C) for conditioners that take one vector.
torch::Tensor pool_context(const torch::Tensor& ctx);

}  // namespace nfp
