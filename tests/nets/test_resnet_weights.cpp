// Pretrained ResNet-18 from a torchvision-named safetensors file: every parameter is copied; a missing or
// mis-shaped key gives an error naming the key.
#include <gtest/gtest.h>

#include <filesystem>

#include "nfp/error.hpp"
#include "nfp/resnet.hpp"
#include "nfp/safetensors.hpp"
#include "nfp/tensor_io.hpp"

using namespace nfp;
namespace fs = std::filesystem;

namespace {

// A file laid out like torchvision's state_dict: our names plus BatchNorm running stats and fc, values random.
SafeTensorsFile torchvision_like(ResNet18Impl& net) {
  SafeTensorsFile f;
  for (const auto& p : net.named_parameters()) {
    f.tensors[p.key()] = to_safetensor(torch::randn(p.value().sizes()));
    const auto& k = p.key();
    if (k.find("bn") != std::string::npos || k.find("downsample.1") != std::string::npos) {
      if (k.size() > 7 && k.compare(k.size() - 7, 7, ".weight") == 0) {
        const std::string base = k.substr(0, k.size() - 7);
        f.tensors[base + ".running_mean"] = to_safetensor(torch::zeros(p.value().sizes()));
        f.tensors[base + ".running_var"] = to_safetensor(torch::ones(p.value().sizes()));
      }
    }
  }
  f.tensors["fc.weight"] = to_safetensor(torch::randn({1000, 512}));
  f.tensors["fc.bias"] = to_safetensor(torch::randn({1000}));
  return f;
}

std::string error_of(ResNet18Impl& net, const fs::path& path) {
  try {
    load_torchvision_resnet18(net, path);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(ResNetWeights, LoadsEveryParameter) {
  ResNet18 net(ResNetOptions{1.0, 32});
  auto f = torchvision_like(*net);
  const auto path = fs::temp_directory_path() / "nfp_resnet_ok.safetensors";
  write_safetensors(path, f);
  const int64_t n = load_torchvision_resnet18(*net, path);
  EXPECT_EQ(n, int64_t(net->named_parameters().size()));
  for (const auto& p : net->named_parameters())
    EXPECT_TRUE(torch::equal(p.value(), from_safetensor(f.tensors.at(p.key())))) << p.key();
  EXPECT_TRUE(torch::equal(net->named_parameters()["layer3.0.bn2.weight"],
                           from_safetensor(f.tensors.at("layer3.0.bn2.weight"))));
  fs::remove(path);
}

TEST(ResNetWeights, MissingKeyIsNamed) {
  ResNet18 net(ResNetOptions{1.0, 32});
  auto f = torchvision_like(*net);
  f.tensors.erase("layer2.1.conv2.weight");
  const auto path = fs::temp_directory_path() / "nfp_resnet_missing.safetensors";
  write_safetensors(path, f);
  const auto msg = error_of(*net, path);
  EXPECT_NE(msg.find("'layer2.1.conv2.weight' is missing"), std::string::npos) << msg;
  fs::remove(path);
}

TEST(ResNetWeights, MisshapedKeyIsNamedWithShapes) {
  ResNet18 net(ResNetOptions{1.0, 32});
  auto f = torchvision_like(*net);
  f.tensors["layer4.0.downsample.0.weight"] = to_safetensor(torch::zeros({512, 128, 1, 1}));
  const auto path = fs::temp_directory_path() / "nfp_resnet_shape.safetensors";
  write_safetensors(path, f);
  const auto msg = error_of(*net, path);
  EXPECT_NE(msg.find("'layer4.0.downsample.0.weight' has shape [512, 128, 1, 1], expected [512, 256, 1, 1]"),
            std::string::npos)
      << msg;
  // a narrow network cannot take full-width weights: the first key already differs
  ResNet18 narrow(ResNetOptions{0.25, 8});
  EXPECT_NE(error_of(*narrow, path).find("'conv1.weight' has shape"), std::string::npos);
  fs::remove(path);
}
