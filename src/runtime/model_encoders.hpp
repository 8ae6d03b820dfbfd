// A policy's observation encoders in the runtime (private to src/runtime): camera images -> per-frame features
// (the conv net or ResNet-18 with GroupNorm, then pooling and a projection) and an instruction -> a pooled vector
// and, for nina-transformer, context tokens. The torch side is src/nets (image_encoder.cpp, resnet.cpp,
// instruction_encoder.cpp); weights keep the torch modules' names. Activations are channels-last: an (h x w x c)
// map is (h*w rows x c), so a convolution is one im2col + the packed GEMM.
#pragma once
#include <string>
#include <vector>

#include "runtime/linear.hpp"

namespace nfp::rt {

// A convolution without dilation or groups: weights packed as B (k*k*cin x cout), row (ky*k + kx)*cin + ci.
struct Conv2d {
  int cin = 0, cout = 0, k = 1, stride = 1, pad = 0;
  PackedMatrix w;
  std::vector<float> bias;  // (cout) or empty
};

struct GroupNorm {
  int groups = 1;
  std::vector<float> gamma, beta;  // (channels)
};

// conv -> GroupNorm (-> ReLU where the network has one).
struct ConvUnit {
  Conv2d conv;
  GroupNorm norm;
};

// torchvision's BasicBlock: relu(norm(conv a) ) -> norm(conv b) + (downsample or identity) -> relu.
struct ResBlock {
  ConvUnit a, b;
  bool downsample = false;
  ConvUnit down;  // 1x1 conv, stride 2
};

enum class ImagePool { Flatten, SpatialSoftmax, Average };
enum class ImageTrunk { Conv, ResNet18 };

// One image encoder: (in_h x in_w x 3) in [0, 1] -> (feature_dim).
struct ImageNet {
  ImageTrunk trunk = ImageTrunk::Conv;
  std::vector<ConvUnit> convs;  // Conv: each unit then ReLU
  ConvUnit stem;                // ResNet18: 7x7/2 conv, norm, ReLU, max pool 3/2/1, then the blocks
  std::vector<ResBlock> blocks;
  ImagePool pool = ImagePool::Flatten;
  bool imagenet_norm = false;  // started from torchvision weights: (x - mean) / std per channel first
  int in_h = 0, in_w = 0;
  int out_c = 0, out_h = 0, out_w = 0;  // the final map
  int pooled = 0;                       // the projection's input
  Linear proj;                          // pooled -> feature_dim; flatten: columns in channels-last order
  int feature_dim = 0;
  size_t max_map = 0, max_cols = 0;     // floats of the largest map and im2col matrix, for the workspace
};

// The cameras of a policy: each frame resized (when the policy was trained on resized images) and centre-cropped
// as nfp::prepare_image does, then encoded.
struct ImageInput {
  std::vector<std::string> cameras;  // observation keys, e.g. "top_image"
  std::vector<int> encoder_of;       // per camera: index into encoders (one shared, or one each)
  std::vector<ImageNet> encoders;
  int camera_h = 0, camera_w = 0;    // what callers pass (the cameras' size in training)
  int resize_h = 0, resize_w = 0;    // resampled to this first (0: no resize)
  int crop_top = 0, crop_left = 0;   // the centre window of the resized image the encoder sees
  struct Tap {
    int index;
    float weight;
  };
  std::vector<std::vector<Tap>> taps_x, taps_y;  // resize taps (nfp::resize_image's, precomputed)
  bool present() const { return !cameras.empty(); }
};

// pre-LN self-attention + GELU feed-forward over the words (torch::nn::MultiheadAttention's packed in_proj).
struct WordBlock {
  LayerNorm ln_attn, ln_ff;
  Linear in_proj, out_proj;  // (3D x D), (D x D)
  Linear ff1, ff2;           // (2D x D), (D x 2D)
};

struct InstructionNet {
  bool present = false;
  std::vector<std::string> vocabulary;  // <pad>, <unk>, <none>, then sorted words
  int dim = 0, max_tokens = 0, heads = 1;
  bool attention_pool = true;  // else mean
  bool tokens = false;         // the words also become context tokens 1..max_tokens (nina-transformer)
  std::vector<float> embed;    // (vocabulary x dim)
  std::vector<float> position; // (max_tokens x dim)
  std::vector<float> query;    // (dim) attention pooling
  std::vector<WordBlock> blocks;
  Linear token_proj;           // dim -> context_dim, with tokens
};

// Where the state MLP's input comes from, in PolicyImpl::encode's order: the low-dim history, each camera's
// frames' features, the previous action, the pooled instruction.
struct PolicyInput {
  int state = 0;        // floats of the caller's state vector before the previous action (low-dim history)
  int prev_action = 0;  // A when the policy conditions on the previous action, else 0
  int history = 1;
  ImageInput images;
  InstructionNet instruction;
};

}  // namespace nfp::rt
