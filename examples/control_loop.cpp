// A fixed-rate control loop: an exported flow policy (.nfpr, `nfp export`) driving a simulated task of the
// nfp suite (nfp_sim, MuJoCo), with no libtorch anywhere; its cameras rendered at the size the policy was trained
// on and its instruction (language-conditioned tasks) passed through nfp_rt_observe. Each tick observes, plans a chunk when the queue is
// empty (LeRobot's select_action: the first n_action_steps actions of a chunk, each held `stride` ticks),
// steps the simulator and sleeps until the next deadline. Prints the policy call latency, the loop's wake-up
// jitter, deadline misses (ticks whose work overran the period) and the episodes' success rate.
//
//   nfp_control_loop policy.nfpr [--task T] [--rate HZ] [--episodes E] [--seed S] [--sigma S] [--sbs N]
//                    [--weights f32|bf16|int8|w8a8]
//
// The runtime calls allocate nothing (the workspace is made before the loop); the simulator's observation maps and
// this file's bookkeeping do, outside the timed policy call (observe + sample: the encoders and the flow).
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <string>
#include <thread>
#include <vector>

#include "nfp/runtime.hpp"
#include "nfp/sim_env.hpp"

namespace {

using Clock = std::chrono::steady_clock;

double pct(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, size_t(p * double(v.size())))];
}

// The policy's observation contract, from the config `nfp export` embeds (docs/RUNTIME.md).
struct Contract {
  std::vector<std::string> keys;
  std::vector<int> dims;
  int history = 1, stride = 1, n_action_steps = 1, action_dim = 0;
  bool prev_action = false;
  std::string task;
  std::vector<float> prev_init;  // the previous action at the start of an episode: normalized 0, raw units
  std::vector<std::string> cameras;  // "<camera>_image" keys, rendered at image_hw
  int image_h = 0, image_w = 0;
};

Contract read_contract(const nfp::runtime::Model& model) {
  const auto cfg = nlohmann::json::parse(model.config_json());
  if (cfg.value("kind", "") != "policy")
    throw std::runtime_error("this .nfpr is a '" + cfg.value("kind", "") + "', not a policy (export a policy checkpoint)");
  const auto& p = cfg.at("policy");
  Contract c;
  c.keys = p.at("obs_keys").get<std::vector<std::string>>();
  c.dims = p.at("obs_dims").get<std::vector<int>>();
  c.history = p.at("history").get<int>();
  c.stride = p.at("stride").get<int>();
  c.n_action_steps = p.at("n_action_steps").get<int>();
  c.prev_action = p.at("prev_action").get<bool>();
  c.task = p.value("task", "");
  c.action_dim = model.info().action_dim;
  for (int i = 0; i < model.info().cameras; ++i) c.cameras.push_back(nfp_rt_model_camera(model.get(), i));
  c.image_h = model.info().image_height;
  c.image_w = model.info().image_width;
  if (c.prev_action) {  // the obs stats' last action_dim entries are the action's centre
    const auto mean = cfg.at("normalization").at("obs_mean").get<std::vector<float>>();
    c.prev_init.assign(mean.end() - c.action_dim, mean.end());
  }
  return c;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || argv[1][0] == '-') {
    std::fprintf(stderr,
                 "usage: %s policy.nfpr [--task T] [--rate HZ] [--episodes E] [--seed S] [--sigma S] [--sbs N] "
                 "[--weights f32|bf16|int8|w8a8]\n",
                 argv[0]);
    return 2;
  }
  std::string task, weights = "f32";
  double rate = 0, sigma = -1;
  int episodes = 3, sbs = 1;
  uint64_t seed = 100000;
  for (int i = 2; i < argc; i += 2) {
    const std::string k = argv[i];
    if (i + 1 >= argc) {
      std::fprintf(stderr, "error: %s needs a value\n", k.c_str());
      return 2;
    }
    const char* v = argv[i + 1];
    if (k == "--task") task = v;
    else if (k == "--rate") rate = std::atof(v);
    else if (k == "--episodes") episodes = std::atoi(v);
    else if (k == "--seed") seed = std::strtoull(v, nullptr, 10);
    else if (k == "--sigma") sigma = std::atof(v);
    else if (k == "--sbs") sbs = std::atoi(v);
    else if (k == "--weights") weights = v;
    else {
      std::fprintf(stderr, "error: unknown option %s\n", k.c_str());
      return 2;
    }
  }
  try {
    nfp::runtime::Model model(argv[1], weights);
    const nfp_rt_info& info = model.info();
    const Contract c = read_contract(model);
    if (task.empty()) task = c.task;
    if (task.empty()) throw std::runtime_error("the policy names no task; pass --task");
    nfp::sim::EnvOptions env_options;
    if (!c.cameras.empty()) {  // render the policy's cameras at its training size
      if (c.image_h != c.image_w)
        throw std::runtime_error("the policy's cameras are " + std::to_string(c.image_h) + " x " +
                                 std::to_string(c.image_w) + "; the simulator renders square images");
      env_options.images = true;
      env_options.image_size = c.image_h;
      for (const auto& key : c.cameras) env_options.cameras.push_back(key.substr(0, key.size() - 6));  // "_image"
    }
    auto env = nfp::sim::make_env(task, env_options);
    const auto& spec = env->spec();
    for (size_t i = 0; i < c.keys.size(); ++i)
      if (!spec.obs_dims.count(c.keys[i]) || spec.obs_dims.at(c.keys[i]) != c.dims[i])
        throw std::runtime_error("task '" + task + "' has no observation '" + c.keys[i] + "' of width " +
                                 std::to_string(c.dims[i]) + " (the policy was trained on another task)");
    if (spec.action.dim != info.action_dim)
      throw std::runtime_error("task '" + task + "' takes " + std::to_string(spec.action.dim) +
                               " action values, the policy gives " + std::to_string(info.action_dim));
    if (rate <= 0) rate = spec.control_hz;
    if (sigma < 0) sigma = info.sigma;
    sbs = std::max(1, sbs);
    nfp::runtime::Workspace ws(model, sbs);

    std::vector<float> obs(size_t(info.obs_dim)), chunk(size_t(info.dim)), action(size_t(info.action_dim));
    std::vector<const uint8_t*> pixels;
    std::vector<double> call_us, jitter_us;
    const auto period = std::chrono::nanoseconds(int64_t(1e9 / rate));
    const size_t keep = size_t((c.history - 1) * c.stride + 1);
    int ticks = 0, misses = 0, successes = 0;
    for (int e = 0; e < episodes; ++e) {
      nfp::sim::Observation o = env->reset(seed + uint64_t(e));
      std::deque<std::vector<float>> frames;  // raw frames (keys concatenated), newest last
      std::deque<std::vector<nfp::sim::Image>> image_frames;  // per frame, the cameras' images
      std::deque<std::vector<float>> queue;
      std::vector<float> prev = c.prev_init;
      auto deadline = Clock::now() + period;
      bool done = false;
      while (!done) {
        std::vector<float> frame;
        for (const auto& k : c.keys) frame.insert(frame.end(), o.lowdim.at(k).begin(), o.lowdim.at(k).end());
        std::vector<nfp::sim::Image> images;
        for (const auto& k : c.cameras) images.push_back(o.images.at(k));
        if (frames.empty()) frames.assign(keep, frame), image_frames.assign(keep, images);  // the first repeats
        else frames.push_back(std::move(frame)), image_frames.push_back(std::move(images));
        while (frames.size() > keep) frames.pop_front(), image_frames.pop_front();
        if (queue.empty()) {  // plan: obs = each key's history, then the previous action (raw units)
          size_t at = 0, off = 0;
          for (size_t i = 0; i < c.keys.size(); ++i) {
            for (int j = 0; j < c.history; ++j) {
              const auto& f = frames[size_t(j * c.stride)];
              std::copy(f.begin() + long(off), f.begin() + long(off) + c.dims[i], obs.begin() + long(at));
              at += size_t(c.dims[i]);
            }
            off += size_t(c.dims[i]);
          }
          if (c.prev_action) std::copy(prev.begin(), prev.end(), obs.begin() + long(at));
          pixels.clear();  // camera-major: camera k's frames, oldest first
          for (size_t k = 0; k < c.cameras.size(); ++k)
            for (int j = 0; j < c.history; ++j) pixels.push_back(image_frames[size_t(j * c.stride)][k].pixels.data());
          const auto t0 = Clock::now();
          const uint64_t s = seed * 1000003u + uint64_t(ticks);
          nfp_rt_status st = ws.observe(obs, pixels, o.instruction.c_str());
          if (st == NFP_RT_OK) st = sbs > 1 ? ws.sbs({}, sbs, float(sigma), s, chunk) : ws.sample({}, float(sigma), s, chunk);
          call_us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
          // A refused call (a NaN / Inf observation: NFP_RT_NONFINITE) leaves the chunk untouched: stop, never act on it.
          nfp::runtime::check(st, sbs > 1 ? "policy call (sbs)" : "policy call (sample)");
          for (int k = 0; k < c.n_action_steps; ++k)
            for (int r = 0; r < c.stride; ++r)
              queue.emplace_back(chunk.begin() + long(k * c.action_dim), chunk.begin() + long((k + 1) * c.action_dim));
        }
        action = queue.front();
        queue.pop_front();
        prev = action;
        const nfp::sim::StepResult r = env->step(action);
        o = r.obs;
        done = r.done;
        successes += r.success;
        ++ticks;
        if (Clock::now() > deadline) ++misses;  // this tick's work overran its period
        std::this_thread::sleep_until(deadline);
        jitter_us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - deadline).count());
        deadline += period;
      }
    }
    std::printf("%s: %d episodes, %d ticks at %.1f Hz (%s kernels, %s weights, %d policy calls, %s)\n", task.c_str(),
                episodes, ticks, rate, info.kernels, info.weights, int(call_us.size()),
                sbs > 1 ? ("SBS-" + std::to_string(sbs)).c_str() : "sample");
    std::printf("policy call: p50 %.1f us  p99 %.1f us  max %.1f us\n", pct(call_us, 0.5), pct(call_us, 0.99),
                pct(call_us, 1.0));
    std::printf("wake-up jitter: p50 %.1f us  p99 %.1f us  max %.1f us\n", pct(jitter_us, 0.5),
                pct(jitter_us, 0.99), pct(jitter_us, 1.0));
    std::printf("deadline misses: %d of %d ticks (%.2f%%); success %d of %d episodes\n", misses, ticks,
                100.0 * misses / std::max(1, ticks), successes, episodes);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
