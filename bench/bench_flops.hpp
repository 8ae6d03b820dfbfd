// FLOPs of a piece of libtorch code, counted by torch's own op counter (the legacy autograd profiler with
// with_flops: aten::mm / addmm / bmm as 2·M·N·K, aten::mul / add per element, conv2d) plus 1-D convolutions,
// which torch 1.13 does not count: conv1d as 2·B·Cout·(Cin/groups)·K·L at stride 1 (the UNet's two stride-2
// downsamplers are over-counted 2×, a few % of a denoiser pass) and conv_transpose1d as 2·B·Cin·Cout·K·L (exact).
//   uint64_t f = nfp::bench::count_flops([&] { head->sample(ctx, 1, {}, gen); }).total;
#pragma once
#include <cstdint>
#include <functional>

namespace nfp::bench {

struct FlopCount {
  uint64_t total = 0;   // matmul + conv + elementwise
  uint64_t matmul = 0;  // mm, addmm, bmm
  uint64_t conv = 0;    // conv1d, conv_transpose1d, conv2d
  uint64_t elementwise = 0;  // mul, add
};

// Runs `fn` once on this thread under the op counter.
FlopCount count_flops(const std::function<void()>& fn);

}  // namespace nfp::bench
