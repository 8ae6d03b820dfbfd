// A fixed-rate control loop around an exported flow policy (.nfpr), against a small simulated task: a
// point mass per action dimension tracking a moving target. Every `horizon` ticks the policy samples a new
// chunk (the chunk queue of LeRobot's select_action); each tick executes one action. Prints the call latency
// percentiles, the loop's wake-up jitter and deadline misses (a tick whose work overran its period).
//
//   control_loop policy.nfpr [--rate HZ] [--seconds S] [--sigma S] [--sbs N]
// The runtime allocates nothing inside the loop: the workspace is created before it starts.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "nfp/runtime.hpp"

namespace {

using Clock = std::chrono::steady_clock;

struct PointMassTask {  // x'' = u - 2 x', per dimension; the target moves on a slow circle
  std::vector<double> pos, vel;
  double t = 0;
  explicit PointMassTask(int dims) : pos(size_t(dims), 0.0), vel(size_t(dims), 0.0) {}
  double target(size_t i) const { return std::sin(0.5 * t + double(i)); }
  void step(const float* u, double dt) {
    for (size_t i = 0; i < pos.size(); ++i) {
      vel[i] += dt * (std::clamp(double(u[i]), -5.0, 5.0) - 2.0 * vel[i]);
      pos[i] += dt * vel[i];
    }
    t += dt;
  }
  // The observation the policy sees: state and target, repeated or cut to obs_dim.
  void observe(std::vector<float>& obs) const {
    const size_t n = pos.size();
    for (size_t k = 0; k < obs.size(); ++k) {
      const size_t i = k % (3 * n);
      obs[k] = float(i < n ? pos[i] : i < 2 * n ? vel[i - n] : target(i - 2 * n));
    }
  }
  double error() const {
    double e = 0;
    for (size_t i = 0; i < pos.size(); ++i) e += std::abs(pos[i] - target(i));
    return e / double(pos.size());
  }
};

double pct(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[std::min(v.size() - 1, size_t(p * double(v.size())))];
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s policy.nfpr [--rate HZ] [--seconds S] [--sigma S] [--sbs N]\n", argv[0]);
    return 2;
  }
  double rate = 100, seconds = 5, sigma = 1.0;
  int sbs = 1;
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    if (k == "--rate") rate = std::atof(argv[i + 1]);
    else if (k == "--seconds") seconds = std::atof(argv[i + 1]);
    else if (k == "--sigma") sigma = std::atof(argv[i + 1]);
    else if (k == "--sbs") sbs = std::atoi(argv[i + 1]);
    else {
      std::fprintf(stderr, "unknown option %s\n", k.c_str());
      return 2;
    }
  }
  try {
    nfp::runtime::Model model(argv[1]);
    const nfp_rt_info& info = model.info();
    nfp::runtime::Workspace ws(model, std::max(1, sbs));
    PointMassTask task(info.action_dim);
    std::vector<float> obs(size_t(info.obs_dim)), chunk(size_t(info.dim));
    std::vector<double> call_us, jitter_us;
    const int ticks = int(rate * seconds);
    call_us.reserve(size_t(ticks));
    jitter_us.reserve(size_t(ticks));
    const auto period = std::chrono::nanoseconds(int64_t(1e9 / rate));
    int misses = 0, next = info.horizon;
    auto deadline = Clock::now() + period;
    for (int tick = 0; tick < ticks; ++tick) {
      const auto start = Clock::now();
      if (next >= info.horizon) {  // the queue ran dry: a new chunk
        task.observe(obs);
        const auto t0 = Clock::now();
        const nfp_rt_status s = sbs > 1 ? ws.sbs(obs, sbs, float(sigma), uint64_t(tick), chunk)
                                        : ws.sample(obs, float(sigma), uint64_t(tick), chunk);
        call_us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
        if (s != NFP_RT_OK) {
          std::fprintf(stderr, "policy call failed: %s\n", nfp_rt_status_string(s));
          return 1;
        }
        next = 0;
      }
      task.step(chunk.data() + size_t(next++) * info.action_dim, 1.0 / rate);
      if (Clock::now() > deadline) ++misses;  // this tick's work overran its period
      std::this_thread::sleep_until(deadline);
      jitter_us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - deadline).count());
      deadline += period;
      (void)start;
    }
    std::printf("%d ticks at %.0f Hz (%s kernels, %d policy calls%s)\n", ticks, rate, info.kernels,
                int(call_us.size()), sbs > 1 ? (", SBS-" + std::to_string(sbs)).c_str() : "");
    std::printf("policy call: p50 %.1f us  p99 %.1f us  max %.1f us\n", pct(call_us, 0.5), pct(call_us, 0.99),
                pct(call_us, 1.0));
    std::printf("wake-up jitter: p50 %.1f us  p99 %.1f us  max %.1f us\n", pct(jitter_us, 0.5), pct(jitter_us, 0.99),
                pct(jitter_us, 1.0));
    std::printf("deadline misses: %d of %d (%.2f%%); mean tracking error %.3f\n", misses, ticks,
                100.0 * misses / std::max(1, ticks), task.error());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
