#include <algorithm>
#include <chrono>

#include "bench_flow.hpp"
#include "nfp/flow.hpp"
#include "nfp/runtime_setup.hpp"

namespace nfp::bench {

namespace {

FlowConfig nfp_spline() {
  FlowConfig c = nina_mlp_sized_flow();
  c.coupling = "spline";
  c.layers = 10;
  c.plu = false;
  c.spline.bins = 8;
  return c;
}

struct Case {
  std::string name;
  Flow flow;
  int64_t batch;
  bool log_prob;
  std::vector<double> ms;
};

}  // namespace

nlohmann::json flow_speed(const FlowSpeedOptions& o) {
  configure_threads(o.threads);
  torch::NoGradGuard ng;
  torch::manual_seed(0);
  std::vector<std::pair<std::string, FlowConfig>> models = {{"nina-mlp", nina_mlp_sized_flow()}, {"nfp-spline", nfp_spline()}};
  std::vector<Case> cases;
  for (auto& [name, cfg] : models) {
    Flow f(cfg);
    f->eval();
    cases.push_back({name + " sample b1", f, 1, false, {}});
    cases.push_back({name + " sample b" + std::to_string(o.batch), f, o.batch, false, {}});
    cases.push_back({name + " log_prob b" + std::to_string(o.batch), f, o.batch, true, {}});
  }
  auto run = [](Case& c) {
    auto ctx = torch::randn({c.batch, 256});
    const auto t0 = std::chrono::steady_clock::now();
    if (c.log_prob) {
      c.flow->log_prob(torch::rand({c.batch, 70}) * 2 - 1, ctx);
    } else {
      c.flow->sample(ctx, 1, 1.0);
    }
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  };
  for (auto& c : cases)
    for (int i = 0; i < 3; ++i) run(c);  // warm-up
  // Interleave the cases so drift in machine load hits them all alike.
  const auto start = std::chrono::steady_clock::now();
  while (std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() < o.seconds * double(cases.size()))
    for (auto& c : cases) c.ms.push_back(run(c));
  nlohmann::json out = {{"threads", o.threads}, {"results", nlohmann::json::array()}};
  for (auto& c : cases) {
    std::sort(c.ms.begin(), c.ms.end());
    out["results"].push_back({{"name", c.name},
                              {"params", count_parameters(*c.flow)},
                              {"batch", c.batch},
                              {"calls", c.ms.size()},
                              {"p50_ms", c.ms[c.ms.size() / 2]},
                              {"p99_ms", c.ms[std::min(c.ms.size() - 1, c.ms.size() * 99 / 100)]}});
  }
  return out;
}

}  // namespace nfp::bench
