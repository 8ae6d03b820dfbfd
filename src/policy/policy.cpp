// Policy: normalizer + encoders (state MLP, images, instruction) + head, chunk queue, checkpoint save / load.
#include "nfp/policy.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <sstream>

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

bool has_modality(const PolicyConfig& c, const std::string& m) {
  return std::find(c.obs.begin(), c.obs.end(), m) != c.obs.end();
}

PolicyImpl::PolicyImpl(PolicyConfig c, Normalizer normalizer)
    : config_(std::move(c)), normalizer_(std::move(normalizer)), gen_(at::make_generator<at::CPUGeneratorImpl>(0)) {
  for (const auto& m : config_.obs)
    require(m == "state" || m == "images" || m == "instruction",
            "policy: unknown observation modality '" + m + "'; known: state, images, instruction");
  require(config_.obs_keys.size() == config_.obs_dims.size(), "policy: obs_keys and obs_dims must be of equal length");
  require(!config_.obs_keys.empty() || !config_.cameras.empty(),
          "policy: no observations (neither low-dim keys nor cameras)");
  require(config_.cameras.empty() || (config_.image_hw.size() == 2 && config_.image_hw[0] >= 1 && config_.image_hw[1] >= 1),
          "policy: image_hw must be {height, width} when cameras are given");
  require(config_.action_dim >= 1 && config_.history >= 1 && config_.horizon >= 1 && config_.stride >= 1,
          "policy: action_dim, history, horizon and stride must be >= 1");
  require(config_.n_action_steps >= 1 && config_.n_action_steps <= config_.horizon,
          "policy: n_action_steps must be in [1, horizon]");
  require(normalizer_.has(Normalizer::kActionKey), "policy: the normalizer has no 'action' statistics");
  for (const auto& k : config_.obs_keys) normalizer_.at(k);
  int64_t in = config_.history * frame_width(config_) + (config_.prev_action ? config_.action_dim : 0);
  // Per camera: each history frame's image features (NF-P conditions on the image embedding of each view).
  const size_t n_enc = config_.image_encoder.shared ? std::min<size_t>(1, config_.cameras.size()) : config_.cameras.size();
  for (size_t i = 0; i < n_enc; ++i) {
    image_encoders_.push_back(ImageEncoder(config_.image_encoder, config_.image_hw[0], config_.image_hw[1]));
    // training-time shifts drawn from the run's seed, so a run's augmentation is reproducible
    image_encoders_.back()->set_shift_generator(at::make_generator<at::CPUGeneratorImpl>(config_.head.seed + 1000 + i));
    register_module(n_enc == 1 ? std::string("image_encoder") : "image_encoder_" + std::to_string(i),
                    image_encoders_.back());
  }
  for (size_t c = 0; c < config_.cameras.size(); ++c) in += config_.history * camera_encoder(c)->output_dim();
  if (has_modality(config_, "instruction")) {
    instruction_encoder_ = register_module("instruction_encoder", InstructionEncoder(config_.instruction_encoder));
    config_.instruction_encoder.vocabulary = instruction_encoder_->vocabulary().words;
    in += instruction_encoder_->output_dim();
    if (config_.instruction_tokens) {
      require(takes_context_tokens(config_.head.type),
              "policy: instruction_tokens needs the nina-transformer head (head '" + config_.head.type +
                  "' takes one context vector); set \"instruction_tokens\": false");
      token_proj_ = register_module("token_proj", torch::nn::Linear(instruction_encoder_->output_dim(), config_.context_dim));
    }
  }
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
  PolicyInput in;
  in.lowdim = obs;
  in.prev_action = prev;
  return encode(in);
}

torch::Tensor PolicyImpl::encode(const PolicyInput& input) {
  std::vector<torch::Tensor> parts;
  torch::Tensor tokens;  // with instruction_tokens: the words, projected to the context width
  int64_t B = -1;
  auto check_batch = [&](int64_t b, const std::string& what) {
    require(B < 0 || b == B, "policy: " + what + " has batch size " + std::to_string(b) + ", expected " + std::to_string(B));
    B = b;
  };
  for (size_t i = 0; i < config_.obs_keys.size(); ++i) {
    const auto& key = config_.obs_keys[i];
    auto it = input.lowdim.find(key);
    require(it != input.lowdim.end(), "policy: observation key '" + key + "' is missing");
    const auto& x = it->second;
    require(x.dim() == 3 && x.size(1) == config_.history && x.size(2) == config_.obs_dims[i],
            "policy: observation '" + key + "' must be (B x " + std::to_string(config_.history) + " x " +
                std::to_string(config_.obs_dims[i]) + ")");
    check_batch(x.size(0), "observation '" + key + "'");
    parts.push_back(x.reshape({B, -1}));
  }
  for (size_t c = 0; c < config_.cameras.size(); ++c) {
    const auto& key = config_.cameras[c];
    auto it = input.images.find(key);
    require(it != input.images.end(), "policy: camera '" + key + "' is missing from the observation");
    const auto& x = it->second;
    require(x.dim() == 5 && x.size(1) == config_.history && x.size(2) == 3 && x.size(3) == config_.image_hw[0] &&
                x.size(4) == config_.image_hw[1],
            "policy: camera '" + key + "' must be (B x " + std::to_string(config_.history) + " x 3 x " +
                std::to_string(config_.image_hw[0]) + " x " + std::to_string(config_.image_hw[1]) + ")");
    check_batch(x.size(0), "camera '" + key + "'");
    // all history frames of all samples in one encoder pass: (B*m x 3 x H x W) -> (B x m*F)
    auto f = camera_encoder(c)->forward(x.reshape({B * config_.history, 3, x.size(3), x.size(4)}));
    parts.push_back(f.reshape({B, -1}));
  }
  if (config_.prev_action) {
    const auto& prev = input.prev_action;
    require(prev.defined() && prev.dim() == 2 && prev.size(1) == config_.action_dim,
            "policy: prev_action must be (B x " + std::to_string(config_.action_dim) + ")");
    check_batch(prev.size(0), "prev_action");
    parts.push_back(prev);
  }
  if (instruction_encoder_) {
    require(B < 0 || int64_t(input.instructions.size()) == B,
            "policy: expected one instruction per sample (" + std::to_string(B) + "), got " +
                std::to_string(input.instructions.size()));
    auto enc = instruction_encoder_->forward(input.instructions, /*fixed_length*/ bool(token_proj_));
    parts.push_back(enc.pooled);
    if (token_proj_) tokens = token_proj_->forward(enc.tokens);  // (B x L x C)
  }
  auto ctx = encoder_->forward(torch::cat(parts, 1));  // (B x C)
  return tokens.defined() ? torch::cat({ctx.unsqueeze(1), tokens}, 1) : ctx;  // the observation's vector, then the words
}

ChunkResult PolicyImpl::predict_chunk_normalized(const std::map<std::string, torch::Tensor>& obs,
                                                 const torch::Tensor& prev, const InferenceOptions& o,
                                                 at::Generator& gen) {
  PolicyInput in;
  in.lowdim = obs;
  in.prev_action = prev;
  return predict_chunk_normalized(in, o, gen);
}

ChunkResult PolicyImpl::predict_chunk_normalized(const PolicyInput& input, const InferenceOptions& o,
                                                 at::Generator& gen) {
  torch::NoGradGuard ng;
  const auto t0 = std::chrono::steady_clock::now();
  PolicyInput batched;
  for (const auto& [k, v] : input.lowdim) batched.lowdim[k] = v.unsqueeze(0);
  for (const auto& [k, v] : input.images) batched.images[k] = v.unsqueeze(0);
  if (input.prev_action.defined()) batched.prev_action = input.prev_action.unsqueeze(0);
  batched.instructions = input.instructions.empty() ? std::vector<std::string>{""} : input.instructions;
  auto ctx = encode(batched);
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
  instruction_.clear();
  queue_.clear();
  prev_normalized_.assign(size_t(config_.action_dim), 0.0f);
  gen_ = at::make_generator<at::CPUGeneratorImpl>(seed);
  chunks_ = 0;
}

void PolicyImpl::push_observation(const PolicyObservation& po) {
  const auto& obs = po.lowdim;
  Frame frame;
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
    frame.lowdim.insert(frame.lowdim.end(), x.data_ptr<float>(), x.data_ptr<float>() + x.numel());
  }
  for (const auto& key : config_.cameras) {
    auto it = po.images.find(key);
    require(it != po.images.end(), "policy: the observation lacks camera image '" + key +
                                       "' (render the cameras the policy was trained on)");
    const auto& img = it->second;
    require(img.dim() == 3 && img.size(0) == config_.image_hw[0] && img.size(1) == config_.image_hw[1] &&
                img.size(2) == 3 && img.scalar_type() == torch::kUInt8,
            "policy: camera image '" + key + "' must be (" + std::to_string(config_.image_hw[0]) + " x " +
                std::to_string(config_.image_hw[1]) + " x 3) uint8, as in training");
    // (H x W x 3) uint8 -> (3 x H x W) float in [0, 1], as the data loader makes them
    frame.images.push_back(img.permute({2, 0, 1}).to(torch::kFloat32).div(255.0f).contiguous());
  }
  instruction_ = po.instruction;
  const size_t keep = size_t((config_.history - 1) * config_.stride + 1);
  if (frames_.empty())
    frames_.assign(keep, frame);  // the first frame repeats, as at the start of a training episode
  else
    frames_.push_back(std::move(frame));
  while (frames_.size() > keep) frames_.pop_front();
}

PolicyInput PolicyImpl::history_input() const {
  PolicyInput out;
  int64_t offset = 0;
  for (size_t i = 0; i < config_.obs_keys.size(); ++i) {
    const int64_t d = config_.obs_dims[i];
    auto t = torch::empty({config_.history, d});
    for (int64_t j = 0; j < config_.history; ++j) {
      const auto& f = frames_[size_t(j * config_.stride)].lowdim;
      std::copy(f.begin() + offset, f.begin() + offset + d, t.data_ptr<float>() + j * d);
    }
    out.lowdim[config_.obs_keys[i]] = t;
    offset += d;
  }
  for (size_t c = 0; c < config_.cameras.size(); ++c) {
    std::vector<torch::Tensor> frames;
    for (int64_t j = 0; j < config_.history; ++j) frames.push_back(frames_[size_t(j * config_.stride)].images[c]);
    out.images[config_.cameras[c]] = torch::stack(frames);  // (m x 3 x H x W)
  }
  out.instructions = {instruction_};
  if (config_.prev_action) out.prev_action = torch::tensor(prev_normalized_, torch::kFloat32);
  return out;
}

ChunkResult PolicyImpl::predict_chunk(const std::map<std::string, std::vector<float>>& obs) {
  PolicyObservation po;
  po.lowdim = obs;
  return predict_chunk(po);
}

std::vector<float> PolicyImpl::act(const std::map<std::string, std::vector<float>>& obs) {
  PolicyObservation po;
  po.lowdim = obs;
  return act(po);
}

ChunkResult PolicyImpl::predict_chunk(const PolicyObservation& obs) {
  push_observation(obs);
  last_ = predict_chunk_normalized(history_input(), config_.inference, gen_);
  ++chunks_;
  return last_;
}

std::vector<float> PolicyImpl::act(const PolicyObservation& obs) {
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

std::string describe_inference(Policy& policy) {
  const auto& c = policy->config();
  const auto& o = c.inference;
  std::ostringstream s;
  s << o.strategy;
  if (policy->head()->has_log_prob() && o.strategy != "denoise") s << ", sigma " << (o.sigma >= 0 ? o.sigma : c.head.sigma);
  if (o.strategy == "sbs") s << ", N " << o.candidates;
  if (o.strategy == "gr") s << ", " << o.gr_steps << " Adam steps";
  if (c.head.type == "diffusion" || c.head.type == "flow-matching") s << ", steps " << (o.steps > 0 ? o.steps : c.head.infer_steps);
  s << ", n_action_steps " << c.n_action_steps;
  return s.str();
}

std::filesystem::path checkpoint_dir(const std::filesystem::path& dir) {
  if (std::filesystem::exists(dir / "config.json")) return dir;
  if (std::filesystem::exists(dir / "checkpoint" / "config.json")) return dir / "checkpoint";
  throw Error(quoted(dir.string()) + " is not a checkpoint (no config.json); pass the --out directory of `nfp train`");
}

Policy load_policy(const std::filesystem::path& dir_in) {
  const auto dir = checkpoint_dir(dir_in);
  PolicyConfig c = read_json_file(dir / "config.json").get<PolicyConfig>();
  Policy p = make_policy(c, Normalizer::load(dir / "stats.json"));
  load_module(*p, dir / "model.safetensors");
  p->eval();
  return p;
}

}  // namespace nfp
