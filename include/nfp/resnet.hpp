// ResNet-18 (He et al. 2016; torchvision's layout: stem conv 7x7/2 + max pool, four stages of two basic
// blocks, strides 1,2,2,2) with GroupNorm instead of BatchNorm, as Diffusion Policy trains it from scratch:
// batch statistics are noisy with small robot batches and BatchNorm's running averages drift under EMA.
// Parameter names follow torchvision ("conv1", "bn1", "layer1.0.conv1", "layer2.0.downsample.0", ...), with
// the normalisation layers keeping BatchNorm's names, so torchvision weights map key for key.
#pragma once
#include <torch/torch.h>

#include <filesystem>

namespace nfp {

struct ResNetOptions {
  double width = 1.0;   // channel multiplier: stage widths 64w, 128w, 256w, 512w (at least `groups` each)
  int64_t groups = 8;   // GroupNorm groups (a divisor of every stage width is chosen)
};

// (B x 3 x H x W) -> feature map (B x 512w x h x w), each side n -> (n-1)/2+1 five times (about n/32);
// any H, W >= 1.
class ResNet18Impl : public torch::nn::Module {
 public:
  explicit ResNet18Impl(ResNetOptions options = {});
  torch::Tensor forward(torch::Tensor x);
  int64_t out_channels() const { return out_channels_; }

 private:
  torch::nn::Conv2d conv1_{nullptr};
  torch::nn::GroupNorm bn1_{nullptr};
  torch::nn::Sequential layer1_{nullptr}, layer2_{nullptr}, layer3_{nullptr}, layer4_{nullptr};
  int64_t out_channels_ = 0;
};
TORCH_MODULE(ResNet18);

// Loads torchvision ResNet-18 weights (a safetensors file with torchvision's key names, e.g. converted from
// resnet18-f37072fd.pth) into `net`, which must have width 1. Convolutions are copied; each BatchNorm's
// affine (weight = gamma, bias = beta) becomes the GroupNorm's affine; running_mean / running_var /
// num_batches_tracked are ignored, because GroupNorm normalises by per-sample statistics instead (the
// features are therefore not identical to torchvision's, but start from its filters — fine-tune after);
// "fc.*" is ignored. A key that `net` needs but the file lacks, or of the wrong shape, throws nfp::Error
// naming the key (and both shapes). Returns the number of tensors copied.
int64_t load_torchvision_resnet18(ResNet18Impl& net, const std::filesystem::path& file);

}  // namespace nfp
