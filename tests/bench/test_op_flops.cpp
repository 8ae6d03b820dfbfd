// The FLOP counter against hand counts: a layer whose multiply-adds are known exactly.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "bench_flops.hpp"

namespace nfp::bench {
namespace {

TEST(OpFlops, LinearIsTwoMNK) {
  torch::NoGradGuard ng;
  torch::nn::Linear lin(8, 16);
  auto x = torch::randn({3, 8});
  const auto f = count_flops([&] { lin(x); });
  EXPECT_EQ(f.matmul, 2u * 3 * 8 * 16);  // addmm: (3 x 8)(8 x 16)
  EXPECT_EQ(f.conv, 0u);
}

TEST(OpFlops, MatmulAndElementwise) {
  auto a = torch::randn({4, 5}), b = torch::randn({5, 6});
  const auto f = count_flops([&] { torch::mm(a, b).mul(2.0); });
  EXPECT_EQ(f.matmul, 2u * 4 * 5 * 6);
  EXPECT_EQ(f.elementwise, 4u * 6);  // one multiply per output element
  EXPECT_EQ(f.total, f.matmul + f.elementwise);
}

TEST(OpFlops, Conv1dAndTransposedConvAtStrideOne) {
  torch::NoGradGuard ng;
  torch::nn::Conv1d conv(torch::nn::Conv1dOptions(4, 6, 3).padding(1));
  torch::nn::ConvTranspose1d up(torch::nn::ConvTranspose1dOptions(6, 2, 4).stride(2).padding(1));
  auto x = torch::randn({2, 4, 10});
  const auto f1 = count_flops([&] { conv(x); });
  EXPECT_EQ(f1.conv, 2u * 2 * 10 * 6 * 4 * 3);  // B * L_out * Cout * Cin * K multiply-adds
  auto y = torch::randn({2, 6, 10});
  const auto f2 = count_flops([&] { up(y); });
  EXPECT_EQ(f2.conv, 2u * 2 * 10 * 6 * 2 * 4);  // every input element meets Cout * K weights
}

TEST(OpFlops, NothingCountedOutsideTheCall) {
  auto a = torch::randn({4, 5}), b = torch::randn({5, 6});
  torch::mm(a, b);
  const auto f = count_flops([] {});
  EXPECT_EQ(f.total, 0u);
}

}  // namespace
}  // namespace nfp::bench
