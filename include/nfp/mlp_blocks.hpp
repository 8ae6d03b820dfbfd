// The one MLP shape every network here uses: [Linear -> LayerNorm -> activation] x layers, then a Linear.
//   torch::nn::Sequential net;
//   nfp::append_mlp(net, /*in*/ 64, /*hidden*/ 256, /*layers*/ 2, /*out*/ 16, nfp::MlpActivation::gelu);
// Sequential numbering is part of the checkpoint format (and the runtime's weight names): Linear 3i,
// LayerNorm 3i+1, activation 3i+2, final Linear 3*layers.
#pragma once
#include <torch/torch.h>

namespace nfp {

enum class MlpActivation { gelu, mish };

// Appends the hidden blocks to `net` and returns their output width (`in` when layers is 0).
int64_t append_mlp_blocks(torch::nn::Sequential& net, int64_t in, int64_t hidden, int64_t layers, MlpActivation act);
// The blocks followed by Linear(width, out).
void append_mlp(torch::nn::Sequential& net, int64_t in, int64_t hidden, int64_t layers, int64_t out, MlpActivation act);

}  // namespace nfp
