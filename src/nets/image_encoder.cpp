// Image encoders (nfp/image_encoder.hpp): small conv net, ResNet-18 (GroupNorm), external TorchScript.
#include "nfp/image_encoder.hpp"

#include <filesystem>

#include <torch/script.h>

#include "nfp/error.hpp"
#include "nfp/resnet.hpp"

namespace nfp {
namespace {

constexpr const char* kTorchscriptPrefix = "torchscript:";

bool is_torchscript(const std::string& type) { return type.rfind(kTorchscriptPrefix, 0) == 0; }

torch::nn::GroupNorm group_norm(int64_t channels, int64_t groups) {
  int64_t g = std::max<int64_t>(1, std::min(groups, channels));
  while (channels % g != 0) --g;
  return torch::nn::GroupNorm(torch::nn::GroupNormOptions(g, channels));
}

// 4 conv layers (3x3; strides 2, 2, 2, 1), GroupNorm + ReLU after each: 84 px -> 11 x 11 x 2c. Cheap enough to
// train on 2 CPU cores (about 25 MFLOP per 84 px image at c = 32) and enough to locate objects.
torch::nn::Sequential small_conv(int64_t c, int64_t groups) {
  torch::nn::Sequential s;
  const int64_t in[] = {3, c, c, 2 * c}, out[] = {c, c, 2 * c, 2 * c}, stride[] = {2, 2, 2, 1};
  for (int i = 0; i < 4; ++i) {
    s->push_back(torch::nn::Conv2d(torch::nn::Conv2dOptions(in[i], out[i], 3).stride(stride[i]).padding(1)));
    s->push_back(group_norm(out[i], groups));
    s->push_back(torch::nn::ReLU());
  }
  return s;
}

// A TorchScript module behind the nn::Module interface; kept frozen (its parameters are not registered, so
// the optimizer leaves them alone and checkpoints keep the file instead).
class ScriptedTrunkImpl : public torch::nn::Module {
 public:
  explicit ScriptedTrunkImpl(const std::string& path) {
    require(std::filesystem::is_regular_file(path), "--encoder torchscript:" + path + ": no such file");
    try {
      module_ = torch::jit::load(path);
    } catch (const std::exception& e) {  // torch's message runs over many lines (a backtrace): keep the first
      const std::string what = e.what();
      throw Error("--encoder torchscript:" + path + ": cannot load the TorchScript module (" +
                  what.substr(0, std::min<size_t>(what.find('\n'), 200)) + ")");
    }
    module_.eval();
  }
  torch::Tensor forward(torch::Tensor x) {
    auto out = module_.forward({x});
    require(out.isTensor(), "torchscript encoder: forward() must return one tensor (B x F)");
    auto t = out.toTensor();
    require(t.dim() >= 2 && t.size(0) == x.size(0), "torchscript encoder: output must be (B x ...) for B inputs");
    return t.reshape({t.size(0), -1}).to(torch::kFloat32);
  }
  void move_to(torch::Device device) { module_.to(device); }

 private:
  torch::jit::Module module_;
};
TORCH_MODULE(ScriptedTrunk);

}  // namespace

std::string image_encoder_names() { return "conv, resnet18, torchscript:FILE"; }

void to_json(json& j, const ImageEncoderConfig& c) {
  j = json{{"type", c.type},         {"width", c.width},     {"conv_channels", c.conv_channels},
           {"pool", c.pool},         {"feature_dim", c.feature_dim}, {"groups", c.groups},
           {"shift_pad", c.shift_pad}, {"shared", c.shared}, {"pretrained", c.pretrained}};
}

void from_json(const json& j, ImageEncoderConfig& c) {
  const std::string w = "image encoder config";
  require_known_keys(j, json_keys(json(ImageEncoderConfig{})), w);
  c.type = json_get(j, "type", c.type, w);
  c.width = json_get(j, "width", c.width, w);
  c.conv_channels = json_get(j, "conv_channels", c.conv_channels, w);
  c.pool = json_get(j, "pool", c.pool, w);
  c.feature_dim = json_get(j, "feature_dim", c.feature_dim, w);
  c.groups = json_get(j, "groups", c.groups, w);
  c.shift_pad = json_get(j, "shift_pad", c.shift_pad, w);
  c.shared = json_get(j, "shared", c.shared, w);
  c.pretrained = json_get(j, "pretrained", c.pretrained, w);
}

torch::Tensor spatial_softmax(const torch::Tensor& f) {
  require(f.dim() == 4, "spatial_softmax: expected (B x C x H x W)");
  const int64_t B = f.size(0), C = f.size(1), H = f.size(2), W = f.size(3);
  auto p = torch::softmax(f.reshape({B, C, H * W}), -1).reshape({B, C, H, W});
  auto ys = torch::linspace(-1, 1, H, f.options()).reshape({1, 1, H, 1});
  auto xs = torch::linspace(-1, 1, W, f.options()).reshape({1, 1, 1, W});
  auto ex = (p * xs).sum({2, 3}), ey = (p * ys).sum({2, 3});  // (B x C) each
  return torch::stack({ex, ey}, -1).reshape({B, 2 * C});
}

torch::Tensor random_shift(const torch::Tensor& x, int64_t pad, at::Generator& gen) {
  require(x.dim() == 4, "random_shift: expected (B x C x H x W)");
  if (pad <= 0) return x;
  const int64_t B = x.size(0), H = x.size(2), W = x.size(3);
  auto padded = torch::nn::functional::pad(
      x, torch::nn::functional::PadFuncOptions({pad, pad, pad, pad}).mode(torch::kReplicate));
  auto off = torch::randint(0, 2 * pad + 1, {B, 2}, gen, torch::kLong);
  auto out = torch::empty_like(x);
  for (int64_t b = 0; b < B; ++b) {
    const int64_t dy = off[b][0].item<int64_t>(), dx = off[b][1].item<int64_t>();
    out[b].copy_(padded[b].narrow(1, dy, H).narrow(2, dx, W));
  }
  return out;
}

ImageEncoderImpl::ImageEncoderImpl(ImageEncoderConfig c, int64_t image_h, int64_t image_w)
    : config_(std::move(c)), image_h_(image_h), image_w_(image_w),
      shift_gen_(at::make_generator<at::CPUGeneratorImpl>(0)) {
  require(image_h >= 1 && image_w >= 1, "image encoder: image size must be positive");
  require(config_.pool == "flatten" || config_.pool == "spatial_softmax" || config_.pool == "avg",
          "image encoder: unknown pool " + quoted_value(config_.pool) + "; known: flatten, spatial_softmax, avg");
  require(config_.shift_pad >= 0, "image encoder: shift_pad must be >= 0");
  int64_t channels = 0;
  if (config_.type == "conv") {
    require(config_.conv_channels >= 1, "image encoder: conv_channels must be >= 1");
    auto net = register_module("trunk", small_conv(config_.conv_channels, config_.groups));
    trunk_ = [net](const torch::Tensor& x) mutable { return net->forward(x); };
    channels = 2 * config_.conv_channels;
  } else if (config_.type == "resnet18") {
    ResNet18 net(ResNetOptions{config_.width, config_.groups});
    if (!config_.pretrained.empty()) load_torchvision_resnet18(*net, config_.pretrained);
    channels = net->out_channels();
    register_module("trunk", net);
    trunk_ = [net](const torch::Tensor& x) mutable { return net->forward(x); };
  } else if (is_torchscript(config_.type)) {
    const std::string path = config_.type.substr(std::string(kTorchscriptPrefix).size());
    require(!path.empty(), "--encoder torchscript:FILE needs a file name");
    ScriptedTrunk t(path);
    move_scripted_ = [t](torch::Device device) mutable { t->move_to(device); };
    trunk_ = [t](const torch::Tensor& x) mutable { return t->forward(x); };
    trunk_is_torchscript_ = true;
    torch::NoGradGuard ng;  // the output size is whatever the module gives for one image of this size
    output_dim_ = t->forward(torch::zeros({1, 3, image_h, image_w})).size(1);
    return;  // features used as they are: no pooling or projection
  } else {
    throw Error("unknown image encoder " + quoted_value(config_.type) + "; known: " + image_encoder_names());
  }
  require(config_.feature_dim >= 1, "image encoder: feature_dim must be >= 1");
  int64_t pooled = config_.pool == "spatial_softmax" ? 2 * channels : channels;
  if (config_.pool == "flatten") {  // every cell of the final feature map: its size follows the input size
    torch::NoGradGuard ng;
    pooled = trunk_(torch::zeros({1, 3, image_h, image_w})).numel();
  }
  proj_ = register_module("proj", torch::nn::Linear(pooled, config_.feature_dim));
  output_dim_ = config_.feature_dim;
}

void ImageEncoderImpl::to(torch::Device device, bool non_blocking) {
  torch::nn::Module::to(device, non_blocking);
  if (move_scripted_) move_scripted_(device);
}

torch::Tensor ImageEncoderImpl::forward(torch::Tensor x) {
  require(x.dim() == 4 && x.size(1) == 3 && x.size(2) == image_h_ && x.size(3) == image_w_,
          "image encoder: expected images (B x 3 x " + std::to_string(image_h_) + " x " + std::to_string(image_w_) +
              ")");
  if (is_training() && config_.shift_pad > 0) x = random_shift(x, config_.shift_pad, shift_gen_);
  if (trunk_is_torchscript_) return trunk_(x);
  if (!config_.pretrained.empty()) {  // torchvision's filters expect ImageNet-normalised inputs
    const auto mean = torch::tensor({0.485f, 0.456f, 0.406f}).reshape({1, 3, 1, 1}).to(x.device());
    const auto std = torch::tensor({0.229f, 0.224f, 0.225f}).reshape({1, 3, 1, 1}).to(x.device());
    x = (x - mean) / std;
  }
  auto f = trunk_(x);
  auto pooled = config_.pool == "flatten"           ? f.flatten(1)
                : config_.pool == "spatial_softmax" ? spatial_softmax(f)
                                                    : f.mean({2, 3});
  return proj_(pooled);
}

}  // namespace nfp
