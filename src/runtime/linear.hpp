// The runtime's dense layers (private to src/runtime): a Linear packed for the GEMM and a LayerNorm.
#pragma once
#include <vector>

#include "runtime/kernels.hpp"

namespace nfp::rt {

struct Linear {
  int in = 0, out = 0;
  PackedMatrix fwd;   // W^T (in x out): y = x W^T + b
  PackedMatrix back;  // W (out x in): dx = dy W
  std::vector<float> bias;  // (out)
};

struct LayerNorm {
  int dim = 0;
  std::vector<float> gamma, beta;
};

}  // namespace nfp::rt
