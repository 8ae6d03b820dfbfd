// Image policies with random weights for the end-to-end latency rows (see bench/bench_e2e.hpp).
#include <ATen/CPUGeneratorImpl.h>

#include "bench_e2e.hpp"
#include "nfp/error.hpp"
#include "nfp/normalizer.hpp"
#include "nfp/sim_env.hpp"
#include "nfp/trainer.hpp"

namespace nfp::bench {

Policy make_e2e_policy(const std::string& task, const ImageEncoderConfig& encoder, int64_t image_size,
                       const HeadConfig& head, int64_t horizon, int64_t context_dim) {
  require(image_size >= 8, "bench latency: image_size must be >= 8");
  const auto spec = sim::task_spec(task);
  require(!spec.cameras.empty(), "bench latency: task '" + task + "' has no camera for the end-to-end rows");
  PolicyConfig pc = default_policy_config(head.type);  // what `nfp train --policy <head>` starts from
  pc.obs = {"images", "state"};
  // resolve_observations() keeps only "state" next to images when the dataset has it; the same here
  if (spec.obs_dims.count("state"))
    pc.obs_keys = {"state"};
  else
    for (const auto& [k, d] : spec.obs_dims) pc.obs_keys.push_back(k);
  for (const auto& k : pc.obs_keys) pc.obs_dims.push_back(spec.obs_dims.at(k));
  pc.cameras = {camera_key(spec.cameras.front())};  // `nfp collect` names camera datasets <camera>_image
  pc.image_hw = {image_size, image_size};
  pc.image_encoder = encoder;
  pc.action_dim = spec.action.dim;
  pc.horizon = horizon;
  pc.context_dim = context_dim;
  pc.head = head;
  pc.task = task;

  Normalizer norm;
  KeyStats a;
  a.mode = NormMode::min_max;
  a.min.assign(spec.action.low.begin(), spec.action.low.end());
  a.max.assign(spec.action.high.begin(), spec.action.high.end());
  a.finalize();
  norm.keys[Normalizer::kActionKey] = a;
  for (size_t i = 0; i < pc.obs_keys.size(); ++i) {
    KeyStats s;
    s.mode = NormMode::mean_std;
    s.min.assign(size_t(pc.obs_dims[i]), -1.0);
    s.max.assign(size_t(pc.obs_dims[i]), 1.0);
    s.mean.assign(size_t(pc.obs_dims[i]), 0.0);
    s.std.assign(size_t(pc.obs_dims[i]), 1.0);
    s.finalize();
    norm.keys[pc.obs_keys[i]] = s;
  }
  Policy p = make_policy(pc, norm);
  p->eval();  // no random shift: inference as `nfp eval` runs it
  return p;
}

Observation e2e_observation(const PolicyImpl& policy, uint64_t seed) {
  const auto& c = policy.config();
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  Observation obs;
  for (size_t i = 0; i < c.obs_keys.size(); ++i) {
    auto x = torch::randn({c.obs_dims[i]}, gen).contiguous();
    obs.lowdim[c.obs_keys[i]] = std::vector<float>(x.data_ptr<float>(), x.data_ptr<float>() + x.numel());
  }
  for (const auto& cam : c.cameras) {
    auto px = torch::randint(0, 256, {c.image_hw[0], c.image_hw[1], 3}, gen, torch::kUInt8).contiguous();
    obs.images[cam] = {int(c.image_hw[0]), int(c.image_hw[1]),
                       std::vector<uint8_t>(px.data_ptr<uint8_t>(), px.data_ptr<uint8_t>() + px.numel())};
  }
  return obs;
}

}  // namespace nfp::bench
