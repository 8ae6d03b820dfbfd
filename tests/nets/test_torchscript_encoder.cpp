// External TorchScript encoder: a tiny module written from C++ (no Python needed) loads through
// `torchscript:FILE`, gives its own feature size, stays frozen; a bad file gives one clear error.
#include <gtest/gtest.h>
#include <torch/script.h>

#include <filesystem>
#include <fstream>

#include "nfp/error.hpp"
#include "nfp/image_encoder.hpp"

using namespace nfp;
namespace fs = std::filesystem;

namespace {
// conv 3 -> 5 channels (3x3, stride 2), ReLU, global mean: (B x 3 x H x W) -> (B x 5); or the 2x2-pooled map
// flattened, (B x 5 x 2 x 2) -> 20 features, to check that non-flat outputs are flattened.
fs::path write_tiny_module(const std::string& name, bool spatial) {
  torch::jit::Module m("TinyEncoder");
  m.register_parameter("w", torch::randn({5, 3, 3, 3}), false);
  if (spatial)
    m.define("def forward(self, x):\n  return torch.adaptive_avg_pool2d(torch.relu(torch.conv2d(x, self.w, None, [2, 2])), [2, 2])\n");
  else
    m.define("def forward(self, x):\n  return torch.relu(torch.conv2d(x, self.w, None, [2, 2])).mean(dim=[2, 3])\n");
  auto path = fs::temp_directory_path() / name;
  m.save(path.string());
  return path;
}
}  // namespace

TEST(TorchScriptEncoder, LoadsAndDiscoversFeatureSize) {
  const auto path = write_tiny_module("nfp_tiny_encoder.pt", false);
  ImageEncoderConfig c;
  c.type = "torchscript:" + path.string();
  ImageEncoder enc(c, 40, 40);
  EXPECT_EQ(enc->output_dim(), 5);
  enc->eval();
  auto y = enc->forward(torch::rand({3, 3, 40, 40}));
  EXPECT_EQ(y.sizes(), (std::vector<int64_t>{3, 5}));
  EXPECT_TRUE(enc->parameters().empty()) << "a TorchScript backbone stays frozen";
  fs::remove(path);
}

TEST(TorchScriptEncoder, FlattensSpatialOutputs) {
  const auto path = write_tiny_module("nfp_tiny_spatial.pt", true);
  ImageEncoderConfig c;
  c.type = "torchscript:" + path.string();
  ImageEncoder enc(c, 32, 48);
  EXPECT_EQ(enc->output_dim(), 20);
  fs::remove(path);
}

TEST(TorchScriptEncoder, BadFileGivesClearError) {
  const auto path = fs::temp_directory_path() / "nfp_not_a_module.pt";
  std::ofstream(path) << "not a zip archive";
  ImageEncoderConfig c;
  c.type = "torchscript:" + path.string();
  try {
    ImageEncoder enc(c, 32, 32);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("cannot load the TorchScript module"), std::string::npos) << what;
    EXPECT_EQ(what.find('\n'), std::string::npos) << "one line, without torch's backtrace: " << what;
  }
  c.type = "torchscript:" + (fs::temp_directory_path() / "nfp_no_such_module.pt").string();
  try {
    ImageEncoder enc(c, 32, 32);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("nfp_no_such_module.pt: no such file"), std::string::npos) << e.what();
  }
  c.type = "torchscript:";
  EXPECT_THROW(ImageEncoder(c, 32, 32), Error);
  fs::remove(path);
}
