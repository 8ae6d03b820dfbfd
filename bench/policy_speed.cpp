// Whole-policy batch-1 timings, libtorch against the runtime (bench/bench_policy_speed.hpp).
#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <chrono>

#include "bench_policy_speed.hpp"
#include "nfp/image_preprocess.hpp"
#include "nfp/sim_env.hpp"

namespace nfp::bench {
namespace {

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }
double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Observation t of policy_observations.
PolicyObservation observation_at(PolicyImpl& policy, const torch::Tensor& state, int t) {
  const PolicyConfig& c = policy.config();
  PolicyObservation o;
  int64_t at = 0;
  for (size_t i = 0; i < c.obs_keys.size(); ++i) {
    const int64_t n = c.history * c.obs_dims[i];
    o.history.lowdim[c.obs_keys[i]] =
        policy.normalizer().normalize(c.obs_keys[i], state.narrow(0, at, n).view({c.history, c.obs_dims[i]})).unsqueeze(0);
    at += n;
  }
  if (c.prev_action)
    o.history.prev_action = policy.normalizer().normalize(kActionKey, state.narrow(0, at, c.action_dim)).unsqueeze(0);
  if (has_modality(c, "instruction")) {
    const auto tasks = sim::task_names();
    if (std::find(tasks.begin(), tasks.end(), c.task) != tasks.end()) o.instruction = sim::task_spec(c.task).instructions.at(0);
    o.history.instructions = {o.instruction};
  }
  if (c.cameras.empty()) return o;
  const ImageSize input{c.image_hw.at(0), c.image_hw.at(1)}, camera = camera_size(c.image_preprocess, input);
  for (size_t k = 0; k < c.cameras.size(); ++k) {
    std::vector<torch::Tensor> frames;
    for (int64_t j = 0; j < c.history; ++j) {
      // frame t + j of camera k's stream: its pixels from a seed of its own
      uint64_t s = 12345 + 1000003 * k + uint64_t(t + j);
      Image im{int(camera.height), int(camera.width), std::vector<uint8_t>(size_t(camera.height * camera.width * 3))};
      for (auto& px : im.pixels) px = uint8_t((s = s * 6364136223846793005ull + 1442695040888963407ull) >> 56);
      // as PolicyRunner prepares a frame: resized and centre-cropped, (3 x H x W) in [0, 1]
      const Image prepared = prepare_image(im, c.image_preprocess, input, c.cameras[k]);
      auto hwc = torch::from_blob(const_cast<uint8_t*>(prepared.pixels.data()), {prepared.height, prepared.width, 3}, torch::kUInt8);
      frames.push_back(hwc.permute({2, 0, 1}).to(torch::kFloat32).div(255.0f).contiguous());
      o.frames.push_back(std::move(im));
    }
    o.history.images[c.cameras[k]] = torch::stack(frames).unsqueeze(0);
  }
  for (const auto& f : o.frames) o.images.push_back(f.pixels.data());
  return o;
}

}  // namespace

std::vector<PolicyObservation> policy_observations(PolicyImpl& policy, const torch::Tensor& state, int count) {
  std::vector<PolicyObservation> out;
  for (int t = 0; t < count; ++t) out.push_back(observation_at(policy, state, t));
  return out;
}

nlohmann::json whole_policy_speed(PolicyImpl& policy, const runtime::Model& model, const std::vector<float>& state,
                                  const std::vector<PolicyObservation>& observations, int rounds) {
  torch::NoGradGuard ng;
  const int sbs_n = 16;
  runtime::Workspace ws(model, sbs_n);
  std::vector<float> chunk(size_t(model.info().dim));
  double lp = 0;
  InferenceOptions sample, sbs;
  sbs.strategy = "sbs";
  sbs.candidates = sbs_n;
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(0);
  std::vector<double> t_s, r_s, t_b, r_b, t_e, r_e;
  // Every timed call takes the next observation (the runtime's frame cache sees a control loop's sliding window,
  // never the same observation twice in a row); libtorch's call takes the same one as the runtime's after it.
  size_t tick = 0;
  auto next = [&]() -> const PolicyObservation& { return observations[tick++ % observations.size()]; };
  for (int round = -3; round < rounds; ++round) {  // 3 warm-up rounds
    const PolicyObservation& o1 = next();
    auto t = Clock::now();
    policy.predict(o1.history, sample, gen);
    const double a = ms_since(t);
    t = Clock::now();
    runtime::check(ws.observe(state, o1.images, o1.instruction.c_str()), "observe");
    runtime::check(ws.sample({}, model.info().sigma, uint64_t(round + 100), chunk, &lp), "sample");
    const double b = ms_since(t);
    const PolicyObservation& o2 = next();
    t = Clock::now();
    policy.predict(o2.history, sbs, gen);
    const double c = ms_since(t);
    t = Clock::now();
    runtime::check(ws.observe(state, o2.images, o2.instruction.c_str()), "observe");
    runtime::check(ws.sbs({}, sbs_n, model.info().sigma, uint64_t(round + 100), chunk, &lp), "sbs");
    const double d = ms_since(t);
    const PolicyObservation& o3 = next();
    t = Clock::now();
    policy.encode(o3.history);
    const double e = ms_since(t);
    t = Clock::now();
    runtime::check(ws.observe(state, o3.images, o3.instruction.c_str()), "observe");
    const double f = ms_since(t);
    if (round < 0) continue;
    t_s.push_back(a), r_s.push_back(b), t_b.push_back(c), r_b.push_back(d), t_e.push_back(e), r_e.push_back(f);
  }
  return {{"torch_ms_sample", median(t_s)},   {"runtime_ms_sample", median(r_s)},
          {"speedup_sample", median(t_s) / median(r_s)},
          {"torch_ms_sbs16", median(t_b)},    {"runtime_ms_sbs16", median(r_b)},
          {"speedup_sbs16", median(t_b) / median(r_b)},
          {"torch_ms_encode", median(t_e)},   {"runtime_ms_observe", median(r_e)},
          {"speedup_encode", median(t_e) / median(r_e)},
          {"rounds", rounds},                 {"cameras", policy.config().cameras},
          {"instruction", observations.at(0).instruction}};
}

}  // namespace nfp::bench
