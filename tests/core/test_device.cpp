// Devices (nfp/device.hpp): the accepted forms and their errors, the CPU-only build's message, and CPU random
// streams that are exactly the ones nfp drew before devices existed. (Built into test_tensor_io: same library.)
#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>

#include "nfp/device.hpp"
#include "nfp/error.hpp"

namespace nfp {
namespace {

std::string error_of(const std::string& text) {
  try {
    resolve_device(text);
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(Device, ParsesCpuCudaAndCudaN) {
  EXPECT_TRUE(parse_device("cpu").is_cpu());
  EXPECT_TRUE(parse_device("cuda").is_cuda());
  EXPECT_FALSE(parse_device("cuda").has_index());
  EXPECT_EQ(parse_device("cuda:1").index(), 1);
  EXPECT_EQ(parse_device("cuda:12").index(), 12);
  for (const char* bad : {"", "CPU", "gpu", "cuda:", "cuda:-1", "cuda:x", "cuda:1:2", "cuda:123", "cpu:0", " cpu"})
    EXPECT_EQ(error_of(bad), std::string("--device: expected cpu, cuda or cuda:N (N a GPU index), got '") + bad + "'");
  EXPECT_TRUE(resolve_device("cpu").is_cpu());
}

TEST(Device, CudaOnACpuOnlyBuildSaysHowToGetIt) {
  if (torch::cuda::is_available()) GTEST_SKIP() << "this libtorch has CUDA and a GPU";
  for (const char* d : {"cuda", "cuda:0", "cuda:3"})
    EXPECT_EQ(error_of(d), std::string("--device ") + d + ": this nfp was built against a CPU-only libtorch; rebuild "
                                       "against CUDA libtorch (README, GPUs)");
}

TEST(Device, CpuStreamsAreTheOnesBeforeDevices) {
  auto before = at::make_generator<at::CPUGeneratorImpl>(42);
  auto now = make_generator(torch::kCPU, 42);
  EXPECT_TRUE(torch::equal(torch::randn({64}, before), torch::randn({64}, now)));
  // on the CPU a runner's stream is sampled from directly: the same generator, advancing together
  at::Generator runner = at::make_generator<at::CPUGeneratorImpl>(7), twin = at::make_generator<at::CPUGeneratorImpl>(7);
  at::Generator sampling = generator_on(torch::kCPU, runner);
  EXPECT_TRUE(torch::equal(torch::randn({8}, sampling), torch::randn({8}, twin)));
  EXPECT_TRUE(torch::equal(torch::randn({8}, runner), torch::randn({8}, twin)));
  torch::nn::Linear layer(3, 2);
  EXPECT_TRUE(module_device(*layer).is_cpu());
  EXPECT_TRUE(module_device(torch::nn::Module()).is_cpu());
}

}  // namespace
}  // namespace nfp
