#include <time.h>

#include <mujoco/mujoco.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>

#include "bench_sim.hpp"
#include "nfp/sim_env.hpp"
#include "nfp/sim_record.hpp"

namespace nfp::bench {

namespace {

using Clock = std::chrono::steady_clock;

// CPU time of this thread: rates per CPU-second are the per-core speed even on a loaded machine.
double thread_cpu_s() {
  timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return t.tv_sec + 1e-9 * t.tv_nsec;
}

// Replays `actions` from reset(seed) over and over for at least `seconds`; returns control steps per second.
// `cpu`: per CPU-second of this thread, else per wall-clock second (rendering runs on llvmpipe's threads).
double replay_rate(sim::Env& env, uint64_t seed, const std::vector<std::vector<float>>& actions, double seconds,
                   bool cpu) {
  int64_t steps = 0;
  auto start = Clock::now();
  double cpu0 = thread_cpu_s(), elapsed = 0;
  while (elapsed < seconds) {
    env.reset(seed);
    for (const auto& a : actions) {
      if (env.step(a).done) break;
      ++steps;
    }
    elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  }
  return steps / (cpu ? thread_cpu_s() - cpu0 : elapsed);
}

// The 1-minute load average (the machine's other work slows every figure), or -1 where unknown.
double load_average() {
  std::ifstream f("/proc/loadavg");
  double load = -1;
  f >> load;
  return f ? load : -1;
}

}  // namespace

nlohmann::json sim_speed(const SimSpeedOptions& o) {
  nlohmann::json out = {{"image_size", o.image_size}, {"seconds", o.seconds}, {"tasks", nlohmann::json::array()}};
  out["load_average_before"] = load_average();
  for (const auto& task : o.tasks.empty() ? sim::task_names() : o.tasks) {
    auto env = sim::make_env(task);
    Episode demo = sim::record_expert_episode(*env, 0, true);
    std::vector<std::vector<float>> actions;
    const int64_t A = demo.actions.row_size();
    for (int64_t t = 0; t < demo.length(); ++t)
      actions.emplace_back(demo.actions.data.begin() + t * A, demo.actions.data.begin() + (t + 1) * A);
    double steps_per_s = replay_rate(*env, 0, actions, o.seconds, true);

    sim::EnvOptions with_images;
    with_images.images = true;
    with_images.image_size = o.image_size;
    auto cam_env = sim::make_env(task, with_images);
    cam_env->reset(0);
    cam_env->render("top");  // warm up: context and textures
    int64_t frames = 0;
    auto start = Clock::now();
    double elapsed = 0;
    while (elapsed < o.seconds) {
      cam_env->render("top");
      ++frames;
      elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    }
    // llvmpipe renders on its own threads: count wall time for frames (CPU time of this thread would flatter it).
    double frames_per_s = frames / elapsed;
    double steps_with_images = replay_rate(*cam_env, 0, actions, o.seconds, false);
    out["tasks"].push_back({{"task", task},
                            {"steps_per_s", steps_per_s},
                            {"frames_per_s", frames_per_s},
                            {"steps_per_s_with_images", steps_with_images},
                            {"cameras", cam_env->spec().cameras.size()},
                            {"control_hz", env->spec().control_hz},
                            {"timestep", env->model()->opt.timestep},
                            {"substeps", std::lround(1 / (env->spec().control_hz * env->model()->opt.timestep))}});
  }
  out["load_average_after"] = load_average();
  return out;
}

void print_sim_speed(const nlohmann::json& r) {
  std::printf("simulator speed: control steps per CPU-second without rendering; top-camera frames and control steps "
              "with every camera per wall second, %dx%d (load average %.1f before, %.1f after)\n",
              r["image_size"].get<int>(), r["image_size"].get<int>(), r["load_average_before"].get<double>(),
              r["load_average_after"].get<double>());
  for (const auto& t : r["tasks"])
    std::printf("  %-15s %9.0f steps/s  %7.1f frames/s  %7.1f steps/s with %d cameras  (%d x %g ms physics per step)\n",
                t["task"].get<std::string>().c_str(), t["steps_per_s"].get<double>(), t["frames_per_s"].get<double>(),
                t["steps_per_s_with_images"].get<double>(), t["cameras"].get<int>(), t["substeps"].get<int>(),
                1000 * t["timestep"].get<double>());
}

}  // namespace nfp::bench
