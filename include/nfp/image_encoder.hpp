// Image encoders for visuomotor policies: camera images (B x 3 x H x W, floats in [0, 1]) -> features (B x F).
//   conv       a small CPU-friendly conv net (4 conv + GroupNorm + ReLU layers, stride 2 thrice)
//   resnet18   ResNet-18 with GroupNorm in place of BatchNorm (Diffusion Policy trains it from scratch),
//              channel width multiplier, any input size; optionally started from torchvision weights
//   torchscript:FILE  a user's TorchScript module (frozen); its output size is discovered at load
// Pooling: flatten (every cell of the final map, as DrQ; the default), spatial softmax (keypoints, Levine et
// al. / Diffusion Policy) or global average pooling, then a linear projection to `feature_dim`. Random-shift augmentation (DrQ: pad with edge pixels, random crop back)
// runs only while the module is in training mode.
#pragma once
#include <torch/torch.h>

#include <functional>
#include <string>

#include "nfp/json_io.hpp"

namespace nfp {

struct ImageEncoderConfig {
  std::string type = "conv";         // conv | resnet18 | torchscript:FILE
  double width = 0.25;               // resnet18: channels = 64 * width at the stem (1 = torchvision's)
  int64_t conv_channels = 32;        // conv: channels of the first two layers (twice that after)
  // flatten (every cell of the final map -> linear; the default: small objects stay visible) | spatial_softmax
  // (keypoints; with unit-scale features its softmax is near uniform and a few-pixel object barely moves it) |
  // avg. Ignored for torchscript.
  std::string pool = "flatten";
  int64_t feature_dim = 64;          // per-camera output F (torchscript: the module's own size)
  int64_t groups = 8;                // GroupNorm groups (capped at the channel count)
  int64_t shift_pad = 4;             // random shift in training, pixels (0: off)
  bool shared = true;                // one encoder for every camera (false: one per camera)
  std::string pretrained;            // resnet18: torchvision-named safetensors file to start from ("" = scratch)
};
void to_json(json& j, const ImageEncoderConfig& c);
void from_json(const json& j, ImageEncoderConfig& c);  // partial objects override; unknown keys fail

// Keypoints of each channel: softmax over H x W, expected (x, y) in [-1, 1]. (B x C x H x W) -> (B x 2C).
torch::Tensor spatial_softmax(const torch::Tensor& features);

// DrQ random shift: each image is padded by `pad` (edge pixels repeat) and cropped back at a random offset.
// (B x C x H x W) -> same shape. `gen` draws the offsets.
torch::Tensor random_shift(const torch::Tensor& images, int64_t pad, at::Generator& gen);

// One encoder: images (B x 3 x H x W) in [0, 1] -> (B x output_dim()).
class ImageEncoderImpl : public torch::nn::Module {
 public:
  // `image_h`, `image_w`: the input size (used to check inputs and, for torchscript, to discover F).
  ImageEncoderImpl(ImageEncoderConfig config, int64_t image_h, int64_t image_w);
  torch::Tensor forward(torch::Tensor images);
  int64_t output_dim() const { return output_dim_; }
  const ImageEncoderConfig& config() const { return config_; }
  void set_shift_generator(at::Generator gen) { shift_gen_ = std::move(gen); }  // a CPU stream on any device
  // Moves the weights (--device); the TorchScript trunk, frozen and so not a registered submodule, too.
  void to(torch::Device device, bool non_blocking = false) override;
  using torch::nn::Module::to;

 private:
  ImageEncoderConfig config_;
  int64_t image_h_, image_w_, output_dim_ = 0;
  // images -> feature map (B x C x h x w), or features (B x F) for torchscript; the module is registered
  // (torchscript's is not: it stays frozen) and `trunk_` calls it
  std::function<torch::Tensor(const torch::Tensor&)> trunk_;
  bool trunk_is_torchscript_ = false;
  std::function<void(torch::Device)> move_scripted_;  // torchscript: moves the module
  torch::nn::Linear proj_{nullptr};
  at::Generator shift_gen_;
};
TORCH_MODULE(ImageEncoder);

// The names accepted by --encoder, for errors and help.
std::string image_encoder_names();

}  // namespace nfp
