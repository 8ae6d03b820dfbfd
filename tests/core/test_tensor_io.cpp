// Module save/load: identical values back; missing, extra or mis-shaped weights name the key.
#include <gtest/gtest.h>

#include <filesystem>

#include "nfp/error.hpp"
#include "nfp/tensor_io.hpp"

namespace nfp {
namespace {

struct NetImpl : torch::nn::Module {
  explicit NetImpl(int64_t hidden) {
    fc = register_module("fc", torch::nn::Linear(3, hidden));
    steps = register_buffer("steps", torch::tensor({7}, torch::kLong));
  }
  torch::nn::Linear fc{nullptr};
  torch::Tensor steps;
};
TORCH_MODULE(Net);

std::string load_error(torch::nn::Module& m, const std::filesystem::path& p) {
  try {
    load_module(m, p);
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(TensorIo, SaveLoadRoundTripAndDtypes) {
  Net a(4), b(4);
  const auto path = std::filesystem::temp_directory_path() / "nfp_tensor_io.safetensors";
  save_module(*a, path, {{"nfp", "test"}});
  load_module(*b, path);
  EXPECT_TRUE(torch::equal(a->fc->weight, b->fc->weight));
  EXPECT_TRUE(torch::equal(a->steps, b->steps));
  EXPECT_EQ(read_safetensors(path).metadata.at("nfp"), "test");
  for (auto t : {torch::randn({2, 2}, torch::kFloat64), torch::randint(0, 255, {3}, torch::kUInt8),
                 torch::randn({5}).to(torch::kBFloat16)}) {
    EXPECT_TRUE(torch::equal(from_safetensor(to_safetensor(t)), t));
  }
  std::filesystem::remove(path);
}

TEST(TensorIo, MismatchesNameTheKey) {
  const auto path = std::filesystem::temp_directory_path() / "nfp_tensor_io_bad.safetensors";
  Net small(4), big(5);
  save_module(*small, path);
  EXPECT_NE(load_error(*big, path).find("'fc.weight' has shape [4, 3] but the model expects [5, 3]"),
            std::string::npos);
  SafeTensorsFile f = read_safetensors(path);
  f.tensors.erase("fc.bias");
  write_safetensors(path, f);
  EXPECT_NE(load_error(*small, path).find("lacks the weight 'fc.bias'"), std::string::npos);
  f = read_safetensors(path);
  f.tensors["fc.bias"] = to_safetensor(torch::zeros({4}));
  f.tensors["extra"] = to_safetensor(torch::zeros({1}));
  write_safetensors(path, f);
  EXPECT_NE(load_error(*small, path).find("'extra'"), std::string::npos);
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace nfp
