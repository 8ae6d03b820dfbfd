// Policy: normalizer + state-MLP encoder + head, chunk queue, checkpoint save / load.
#include "nfp/policy.hpp"

#include <chrono>
#include <cmath>

#include "nfp/error.hpp"
#include "nfp/tensor_io.hpp"

namespace nfp {
namespace {

int64_t frame_width(const PolicyConfig& c) {
  int64_t w = 0;
  for (auto d : c.obs_dims) w += d;
  return w;
}

}  // namespace

PolicyImpl::PolicyImpl(PolicyConfig c, Normalizer normalizer)
    : config_(std::move(c)), normalizer_(std::move(normalizer)), gen_(at::make_generator<at::CPUGeneratorImpl>(0)) {
  require(!config_.obs_keys.empty() && config_.obs_keys.size() == config_.obs_dims.size(),
          "policy: obs_keys and obs_dims must be non-empty and of equal length");
  require(config_.action_dim >= 1 && config_.history >= 1 && config_.horizon >= 1 && config_.stride >= 1,
          "policy: action_dim, history, horizon and stride must be >= 1");
  require(config_.n_action_steps >= 1 && config_.n_action_steps <= config_.horizon,
          "policy: n_action_steps must be in [1, horizon]");
  require(normalizer_.has(Normalizer::kActionKey), "policy: the normalizer has no 'action' statistics");
  for (const auto& k : config_.obs_keys) normalizer_.at(k);
  int64_t in = config_.history * frame_width(config_) + (config_.prev_action ? config_.action_dim : 0);
  encoder_ = torch::nn::Sequential();
  for (int64_t i = 0; i < config_.encoder_layers; ++i) {
    encoder_->push_back(torch::nn::Linear(in, config_.encoder_hidden));
    encoder_->push_back(torch::nn::LayerNorm(torch::nn::LayerNormOptions({config_.encoder_hidden})));
    encoder_->push_back(torch::nn::GELU());
    in = config_.encoder_hidden;
  }
  encoder_->push_back(torch::nn::Linear(in, config_.context_dim));
  register_module("encoder", encoder_);
  config_.head.horizon = config_.horizon;
  config_.head.action_dim = config_.action_dim;
  config_.head.context_dim = config_.context_dim;
  head_ = register_module("head", make_head(config_.head));
}

torch::Tensor PolicyImpl::encode(const std::map<std::string, torch::Tensor>& obs, const torch::Tensor& prev) {
  std::vector<torch::Tensor> parts;
  int64_t B = -1;
  for (size_t i = 0; i < config_.obs_keys.size(); ++i) {
    const auto& key = config_.obs_keys[i];
    auto it = obs.find(key);
    require(it != obs.end(), "policy: observation key '" + key + "' is missing");
    const auto& x = it->second;
    require(x.dim() == 3 && x.size(1) == config_.history && x.size(2) == config_.obs_dims[i] && (B < 0 || x.size(0) == B),
            "policy: observation '" + key + "' must be (B x " + std::to_string(config_.history) + " x " +
                std::to_string(config_.obs_dims[i]) + ")");
    B = x.size(0);
    parts.push_back(x.reshape({B, -1}));
  }
  if (config_.prev_action) {
    require(prev.defined() && prev.dim() == 2 && prev.size(0) == B && prev.size(1) == config_.action_dim,
            "policy: prev_action must be (B x " + std::to_string(config_.action_dim) + ")");
    parts.push_back(prev);
  }
  return encoder_->forward(torch::cat(parts, 1));
}

ChunkResult PolicyImpl::predict_chunk_normalized(const std::map<std::string, torch::Tensor>& obs,
                                                 const torch::Tensor& prev, const InferenceOptions& o,
                                                 at::Generator& gen) {
  torch::NoGradGuard ng;
  const auto t0 = std::chrono::steady_clock::now();
  std::map<std::string, torch::Tensor> batched;
  for (const auto& [k, v] : obs) batched[k] = v.unsqueeze(0);
  auto ctx = encode(batched, prev.defined() ? prev.unsqueeze(0) : prev);
  auto r = run_strategy(*head_, ctx, o, gen);
  ChunkResult out;
  out.normalized = r.actions[0];
  out.log_prob = r.log_prob.defined() ? r.log_prob[0].item<double>() : NAN;
  out.actions = normalizer_.unnormalize(Normalizer::kActionKey, out.normalized.clamp(-1.0, 1.0));
  out.latency_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  require(torch::isfinite(out.actions).all().item<bool>(),
          "policy: the head produced non-finite actions (a diverged checkpoint?); retrain or pick another checkpoint");
  return out;
}

void PolicyImpl::reset(uint64_t seed) {
  frames_.clear();
  queue_.clear();
  prev_normalized_.assign(size_t(config_.action_dim), 0.0f);
  gen_ = at::make_generator<at::CPUGeneratorImpl>(seed);
  chunks_ = 0;
}

void PolicyImpl::push_observation(const std::map<std::string, std::vector<float>>& obs) {
  std::vector<float> frame;
  for (size_t i = 0; i < config_.obs_keys.size(); ++i) {
    const auto& key = config_.obs_keys[i];
    auto it = obs.find(key);
    require(it != obs.end(), "policy: the observation lacks key '" + key + "' (this policy was trained on " +
                                 std::to_string(config_.obs_keys.size()) + " keys); check the task");
    require(int64_t(it->second.size()) == config_.obs_dims[i],
            "policy: observation '" + key + "' has " + std::to_string(it->second.size()) + " values, expected " +
                std::to_string(config_.obs_dims[i]));
    for (float v : it->second)
      require(std::isfinite(v), "policy: observation '" + key + "' contains NaN or Inf; refusing to act on it");
    auto x = normalizer_.normalize(key, torch::tensor(it->second, torch::kFloat32)).contiguous();
    frame.insert(frame.end(), x.data_ptr<float>(), x.data_ptr<float>() + x.numel());
  }
  const size_t keep = size_t((config_.history - 1) * config_.stride + 1);
  if (frames_.empty())
    frames_.assign(keep, frame);  // the first frame repeats, as at the start of a training episode
  else
    frames_.push_back(std::move(frame));
  while (frames_.size() > keep) frames_.pop_front();
}

std::map<std::string, torch::Tensor> PolicyImpl::history_tensors() const {
  std::map<std::string, torch::Tensor> out;
  int64_t offset = 0;
  for (size_t i = 0; i < config_.obs_keys.size(); ++i) {
    const int64_t d = config_.obs_dims[i];
    auto t = torch::empty({config_.history, d});
    for (int64_t j = 0; j < config_.history; ++j) {
      const auto& f = frames_[size_t(j * config_.stride)];
      std::copy(f.begin() + offset, f.begin() + offset + d, t.data_ptr<float>() + j * d);
    }
    out[config_.obs_keys[i]] = t;
    offset += d;
  }
  return out;
}

ChunkResult PolicyImpl::predict_chunk(const std::map<std::string, std::vector<float>>& obs) {
  push_observation(obs);
  torch::Tensor prev;
  if (config_.prev_action) prev = torch::tensor(prev_normalized_, torch::kFloat32);
  last_ = predict_chunk_normalized(history_tensors(), prev, config_.inference, gen_);
  ++chunks_;
  return last_;
}

std::vector<float> PolicyImpl::act(const std::map<std::string, std::vector<float>>& obs) {
  if (queue_.empty()) {
    predict_chunk(obs);
    auto a = last_.actions.contiguous();
    for (int64_t k = 0; k < config_.n_action_steps; ++k)
      for (int64_t r = 0; r < config_.stride; ++r)  // a chunk frame stands for `stride` control steps
        queue_.emplace_back(a[k].data_ptr<float>(), a[k].data_ptr<float>() + config_.action_dim);
  } else {
    push_observation(obs);
  }
  std::vector<float> action = std::move(queue_.front());
  queue_.pop_front();
  auto n = normalizer_.normalize(Normalizer::kActionKey, torch::tensor(action, torch::kFloat32)).contiguous();
  prev_normalized_.assign(n.data_ptr<float>(), n.data_ptr<float>() + n.numel());
  return action;
}

Policy make_policy(PolicyConfig config, Normalizer normalizer) { return Policy(std::move(config), std::move(normalizer)); }

void save_policy(Policy& policy, const std::filesystem::path& dir) {
  write_json_file(dir / "config.json", json(policy->config()));
  save_module(*policy, dir / "model.safetensors", {{"format", "nfp-policy"}, {"type", policy->config().head.type}});
  policy->normalizer().save(dir / "stats.json");
}

Policy load_policy(const std::filesystem::path& dir_in) {
  auto dir = dir_in;
  if (!std::filesystem::exists(dir / "config.json") && std::filesystem::exists(dir / "checkpoint" / "config.json"))
    dir = dir / "checkpoint";
  require(std::filesystem::exists(dir / "config.json"),
          "'" + dir_in.string() + "' is not a policy checkpoint (no config.json); pass the --out directory of `nfp train`");
  PolicyConfig c = read_json_file(dir / "config.json").get<PolicyConfig>();
  Policy p = make_policy(c, Normalizer::load(dir / "stats.json"));
  load_module(*p, dir / "model.safetensors");
  p->eval();
  return p;
}

}  // namespace nfp
