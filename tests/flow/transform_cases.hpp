// Every transform x conditioner the flow library offers, built for the generic tests (float64, eval mode,
// parameters perturbed so zero-initialised layers are not trivially the identity).
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "nfp/flow.hpp"

namespace nfp::testing {

constexpr int64_t kTokens = 3, kTokenDim = 2, kDim = kTokens * kTokenDim, kContext = 3;

struct TransformCase {
  std::string name;
  bool conditional;  // uses the context
  // 0: context (B x C); N: context tokens (B x N x C). The transformer cases use 2 tokens: with one token its
  // cross-attention softmax is constant, so the query weights get no gradient (NinA's additive-bias case).
  int64_t context_tokens;
  bool torch_seeded_init;  // initial weights drawn from torch's global generator (Linear layers)
  std::function<Transform(uint64_t seed)> make;
};

std::vector<TransformCase> all_transform_cases();

// Deterministic perturbation of all parameters (scale 0.3) under `seed`.
void perturb_parameters(torch::nn::Module& m, uint64_t seed);

}  // namespace nfp::testing

namespace nfp::testing {
inline void PrintTo(const TransformCase& c, std::ostream* os) { *os << c.name; }
}  // namespace nfp::testing
