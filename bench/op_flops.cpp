// FLOP counting through torch's legacy profiler (see bench/bench_flops.hpp for what is counted and how).
#include <torch/csrc/autograd/profiler_legacy.h>

#include <string>

#include "bench_flops.hpp"

namespace nfp::bench {

namespace {

uint64_t product(const std::vector<int64_t>& v) {
  uint64_t p = 1;
  for (auto x : v) p *= uint64_t(x);
  return p;
}


bool is_counted(const std::string& name) {
  return name == "aten::mm" || name == "aten::addmm" || name == "aten::bmm" || name == "aten::mul" ||
         name == "aten::add" || name == "aten::conv2d" || name == "aten::conv1d" || name == "aten::conv_transpose1d";
}

void count_op(torch::autograd::profiler::LegacyEvent& e, FlopCount& out) {
  const std::string name = e.name();
  const auto shapes = e.shapes();
  if (name == "aten::mm" || name == "aten::addmm" || name == "aten::bmm") {
    out.matmul += e.flops();
  } else if (name == "aten::mul" || name == "aten::add") {
    out.elementwise += e.flops();
  } else if (name == "aten::conv2d") {
    out.conv += e.flops();
  } else if ((name == "aten::conv1d" || name == "aten::conv_transpose1d") && shapes.size() >= 2 &&
             shapes[0].size() == 3 && shapes[1].size() == 3) {
    // input (B x Cin x L); conv1d weight (Cout x Cin/g x K), transposed (Cin x Cout/g x K): both are
    // 2 * (B*L) * |weight| multiply-adds at stride 1
    out.conv += 2 * product(shapes[0]) / uint64_t(shapes[0][1]) * product(shapes[1]);
  }
}

}  // namespace

FlopCount count_flops(const std::function<void()>& fn) {
  namespace prof = torch::autograd::profiler;
  using torch::profiler::impl::ProfilerConfig;
  using torch::profiler::impl::ProfilerState;
  FlopCount out;
  {
    const ProfilerConfig cfg(ProfilerState::CPU, /*report_input_shapes=*/true, /*profile_memory=*/false,
                             /*with_stack=*/false, /*with_flops=*/true);
    prof::TLSLegacyProfilerGuard guard(cfg, [&out](const prof::thread_event_lists& lists) {
      for (const auto& list : lists) {
        // Ops nest (mul.Scalar calls mul.Tensor, both recorded as aten::mul): count an op only when no
        // enclosing op was counted. inside[k] = some op on the stack up to depth k was counted.
        std::vector<bool> inside;
        for (auto e : list) {  // a copy: LegacyEvent::flops() is not const
          if (e.kind() == prof::EventKind::PopRange) {
            if (!inside.empty()) inside.pop_back();
            continue;
          }
          if (e.kind() != prof::EventKind::PushRange) continue;
          const bool enclosed = !inside.empty() && inside.back();
          if (!enclosed) count_op(e, out);
          inside.push_back(enclosed || is_counted(e.name()));
        }
      }
    });
    fn();
  }
  out.total = out.matmul + out.conv + out.elementwise;
  return out;
}

}  // namespace nfp::bench
