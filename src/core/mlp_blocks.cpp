#include "nfp/mlp_blocks.hpp"

namespace nfp {

int64_t append_mlp_blocks(torch::nn::Sequential& net, int64_t in, int64_t hidden, int64_t layers, MlpActivation act) {
  for (int64_t i = 0; i < layers; ++i) {
    net->push_back(torch::nn::Linear(in, hidden));
    net->push_back(torch::nn::LayerNorm(torch::nn::LayerNormOptions({hidden})));
    if (act == MlpActivation::gelu)
      net->push_back(torch::nn::GELU());
    else
      net->push_back(torch::nn::Mish());
    in = hidden;
  }
  return in;
}

void append_mlp(torch::nn::Sequential& net, int64_t in, int64_t hidden, int64_t layers, int64_t out, MlpActivation act) {
  net->push_back(torch::nn::Linear(append_mlp_blocks(net, in, hidden, layers, act), out));
}

}  // namespace nfp
