// ResNet-18 with GroupNorm (nfp/resnet.hpp) and the torchvision weight mapping.
#include "nfp/resnet.hpp"

#include <cmath>
#include <sstream>

#include "nfp/error.hpp"
#include "nfp/safetensors.hpp"
#include "nfp/tensor_io.hpp"

namespace nfp {
namespace {

// The largest divisor of `channels` not above `groups`, so any width multiplier gives a valid GroupNorm.
torch::nn::GroupNorm group_norm(int64_t channels, int64_t groups) {
  int64_t g = std::max<int64_t>(1, std::min(groups, channels));
  while (channels % g != 0) --g;
  return torch::nn::GroupNorm(torch::nn::GroupNormOptions(g, channels));
}

torch::nn::Conv2d conv(int64_t in, int64_t out, int64_t k, int64_t stride) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, k).stride(stride).padding(k / 2).bias(false));
}

// torchvision's BasicBlock: conv3x3 -> norm -> relu -> conv3x3 -> norm, + identity (or 1x1 conv + norm).
class BasicBlockImpl : public torch::nn::Module {
 public:
  BasicBlockImpl(int64_t in, int64_t out, int64_t stride, int64_t groups) {
    conv1 = register_module("conv1", conv(in, out, 3, stride));
    bn1 = register_module("bn1", group_norm(out, groups));
    conv2 = register_module("conv2", conv(out, out, 3, 1));
    bn2 = register_module("bn2", group_norm(out, groups));
    if (stride != 1 || in != out) {
      downsample = torch::nn::Sequential(conv(in, out, 1, stride), group_norm(out, groups));
      register_module("downsample", downsample);
    }
  }
  torch::Tensor forward(torch::Tensor x) {
    auto y = torch::relu(bn1(conv1(x)));
    y = bn2(conv2(y));
    return torch::relu(y + (downsample ? downsample->forward(x) : x));
  }
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr};
  torch::nn::GroupNorm bn1{nullptr}, bn2{nullptr};
  torch::nn::Sequential downsample{nullptr};
};
TORCH_MODULE(BasicBlock);

torch::nn::Sequential stage(int64_t in, int64_t out, int64_t stride, int64_t groups) {
  return torch::nn::Sequential(BasicBlock(in, out, stride, groups), BasicBlock(out, out, 1, groups));
}

std::string shape_str(at::IntArrayRef s) {
  std::ostringstream o;
  o << "[";
  for (size_t i = 0; i < s.size(); ++i) o << (i ? ", " : "") << s[i];
  return o.str() + "]";
}

}  // namespace

ResNet18Impl::ResNet18Impl(ResNetOptions o) {
  require(o.width > 0 && o.groups >= 1, "resnet18: width must be > 0 and groups >= 1");
  auto ch = [&](int64_t base) { return std::max<int64_t>(o.groups, int64_t(std::lround(double(base) * o.width))); };
  const int64_t c1 = ch(64), c2 = ch(128), c3 = ch(256), c4 = ch(512);
  conv1_ = register_module("conv1", torch::nn::Conv2d(torch::nn::Conv2dOptions(3, c1, 7).stride(2).padding(3).bias(false)));
  bn1_ = register_module("bn1", group_norm(c1, o.groups));
  layer1_ = register_module("layer1", stage(c1, c1, 1, o.groups));
  layer2_ = register_module("layer2", stage(c1, c2, 2, o.groups));
  layer3_ = register_module("layer3", stage(c2, c3, 2, o.groups));
  layer4_ = register_module("layer4", stage(c3, c4, 2, o.groups));
  out_channels_ = c4;
}

torch::Tensor ResNet18Impl::forward(torch::Tensor x) {
  require(x.dim() == 4 && x.size(1) == 3, "resnet18: expected images (B x 3 x H x W)");
  x = torch::relu(bn1_(conv1_(x)));
  x = torch::max_pool2d(x, 3, 2, 1);  // torchvision's; every stride-2 step maps n >= 1 to (n-1)/2+1 >= 1
  return layer4_->forward(layer3_->forward(layer2_->forward(layer1_->forward(x))));
}

int64_t load_torchvision_resnet18(ResNet18Impl& net, const std::filesystem::path& file) {
  const SafeTensorsFile st = read_safetensors(file);
  torch::NoGradGuard ng;
  int64_t copied = 0;
  auto assign = [&](const std::string& key, torch::Tensor& param) {
    auto it = st.tensors.find(key);
    require(it != st.tensors.end(), file.string() + ": key '" + key +
                                        "' is missing (expected torchvision ResNet-18 names, e.g. layer1.0.conv1.weight)");
    torch::Tensor t = from_safetensor(it->second).to(torch::kFloat32);
    require(t.sizes() == param.sizes(), file.string() + ": key '" + key + "' has shape " + shape_str(t.sizes()) +
                                            ", expected " + shape_str(param.sizes()) +
                                            " (pretrained weights need --encoder resnet18 at width 1)");
    param.copy_(t);
    ++copied;
  };
  // GroupNorm's weight / bias are BatchNorm's gamma / beta under the same names; nothing else is needed.
  for (auto& item : net.named_parameters()) assign(item.key(), item.value());
  return copied;
}

}  // namespace nfp
