// Policy: normalizer + encoders (state MLP, images, instruction) + head; predict() plans one chunk.
#include "nfp/policy.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <sstream>

#include "nfp/device.hpp"
#include "nfp/error.hpp"
#include "nfp/mlp_blocks.hpp"

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
    : config_(std::move(c)), normalizer_(std::move(normalizer)) {
  for (const auto& m : config_.obs)
    require(m == "state" || m == "images" || m == "instruction",
            "policy: unknown observation modality " + quoted_value(m) + "; known: state, images, instruction");
  require(config_.obs_keys.size() == config_.obs_dims.size(), "policy: obs_keys and obs_dims must be of equal length");
  require(!config_.obs_keys.empty() || !config_.cameras.empty(),
          "policy: no observations (neither low-dim keys nor cameras)");
  require(config_.cameras.empty() || (config_.image_hw.size() == 2 && config_.image_hw[0] >= 1 && config_.image_hw[1] >= 1),
          "policy: image_hw must be {height, width} when cameras are given");
  if (!config_.cameras.empty()) {  // the encoder sees the crop, cut from the resized images
    const ImagePreprocess& pre = config_.image_preprocess;
    const ImageSize input{config_.image_hw[0], config_.image_hw[1]};
    const bool crop_ok = pre.crop.empty() || (pre.crop == input && pre.crop.height <= pre.crop_from.height &&
                                              pre.crop.width <= pre.crop_from.width);
    const bool resize_ok = pre.resize.empty() || pre.resize == (pre.crop.empty() ? input : pre.crop_from);
    require(crop_ok && resize_ok, "policy: image_hw " + to_string(input) + ", image_resize and image_crop disagree "
                                  "(the encoder sees the crop, cut from the resized images); fix config.json");
  }
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
      require(head_traits(config_.head.type).reads_context_tokens,
              "policy: instruction_tokens needs the nina-transformer head (head '" + config_.head.type +
                  "' takes one context vector); set \"instruction_tokens\": false");
      token_proj_ = register_module("token_proj", torch::nn::Linear(instruction_encoder_->output_dim(), config_.context_dim));
    }
  }
  encoder_ = torch::nn::Sequential();
  append_mlp(encoder_, in, config_.encoder_hidden, config_.encoder_layers, config_.context_dim, MlpActivation::gelu);
  register_module("encoder", encoder_);
  config_.head.horizon = config_.horizon;
  config_.head.action_dim = config_.action_dim;
  config_.head.context_dim = config_.context_dim;
  head_ = register_module("head", make_head(config_.head));
}

torch::Tensor PolicyImpl::encode(const ObservationBatch& input) {
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

Chunk PolicyImpl::predict(const ObservationBatch& history, const InferenceOptions& o, at::Generator& gen) const {
  return predict_batch({&history}, o, {gen}).front();
}

namespace {

// The rows of several B = 1 histories as one batch (B = histories.size()).
ObservationBatch stack_histories(const std::vector<const ObservationBatch*>& histories) {
  if (histories.size() == 1) return *histories.front();
  ObservationBatch out;
  auto cat = [&](auto member) {
    std::vector<torch::Tensor> parts;
    for (const auto* h : histories) parts.push_back(member(*h));
    return torch::cat(parts, 0);
  };
  for (const auto& kv : histories.front()->lowdim)
    out.lowdim[kv.first] = cat([&](const ObservationBatch& h) { return h.lowdim.at(kv.first); });
  for (const auto& kv : histories.front()->images)
    out.images[kv.first] = cat([&](const ObservationBatch& h) { return h.images.at(kv.first); });
  if (histories.front()->prev_action.defined())
    out.prev_action = cat([](const ObservationBatch& h) { return h.prev_action; });
  for (const auto* h : histories) out.instructions.insert(out.instructions.end(), h->instructions.begin(), h->instructions.end());
  return out;
}

}  // namespace

std::vector<Chunk> PolicyImpl::predict_batch(const std::vector<const ObservationBatch*>& histories,
                                             const InferenceOptions& o, std::vector<at::Generator> generators) const {
  require(!is_training(), "policy: predict needs eval mode (training mode draws image shifts and dropout); call "
                          "policy->eval() first (load_policy does)");
  require(!histories.empty() && histories.size() == generators.size(),
          "policy: predict_batch needs one generator per history (" + std::to_string(histories.size()) + " histories, " +
              std::to_string(generators.size()) + " generators)");
  torch::NoGradGuard ng;
  const auto t0 = std::chrono::steady_clock::now();
  // libtorch's forward() is not const, but in eval mode without gradients it reads only the weights.
  auto& self = const_cast<PolicyImpl&>(*this);
  for (const auto* h : histories)
    for (const auto& kv : h->lowdim)
      require(kv.second.size(0) == 1, "policy: predict takes one observation history (B = 1) per runner, got " +
                                          std::to_string(kv.second.size(0)));
  ObservationBatch batch = stack_histories(histories);
  const torch::Device dev = device();
  if (!dev.is_cpu()) move_to(batch, dev);  // the histories to the weights' device; chunks come back to the CPU
  auto ctx = self.encode(batch);
  const int64_t B = int64_t(histories.size());
  require(ctx.size(0) == B, "policy: predict takes one observation history (B = 1) per runner");
  for (auto& g : generators) g = generator_on(dev, g);
  auto r = run_strategy(*head_, ctx, o, generators.front(), generators);
  const auto normalized = r.actions.to(torch::kCPU);
  auto actions = normalizer_.unnormalize(Normalizer::kActionKey, normalized.clamp(-1.0, 1.0));
  require(torch::isfinite(actions).all().item<bool>(),
          "policy: the head produced non-finite actions (a diverged checkpoint?); retrain or pick another checkpoint");
  const double latency = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::vector<Chunk> out(static_cast<size_t>(B));
  for (int64_t b = 0; b < B; ++b) {
    auto& c = out[size_t(b)];
    c.normalized = normalized[b];
    c.actions = actions[b];
    c.log_prob = r.log_prob.defined() ? r.log_prob[b].item<double>() : NAN;
    c.log_prob_spread = r.log_prob_spread.defined() ? r.log_prob_spread[b].item<double>() : NAN;
    c.latency_s = latency;
    c.context = ctx[b].unsqueeze(0).to(torch::kCPU);
  }
  return out;
}

torch::Tensor PolicyImpl::log_prob(const torch::Tensor& context, const torch::Tensor& normalized) const {
  require(head_->has_log_prob(), "policy: the '" + config_.head.type + "' head has no likelihood");
  torch::NoGradGuard ng;
  auto& head = const_cast<ActionHeadImpl&>(*head_);  // eval mode, no gradients: reads only the weights
  const torch::Device dev = device();
  return head.log_prob(normalized.to(dev), context.to(dev)).to(torch::kCPU);
}

torch::Device PolicyImpl::device() const { return module_device(*this); }

void PolicyImpl::check_options(const RunnerOptions& o) const {
  check_strategy(o.inference.strategy, *head_);
  const std::string& sampler = o.inference.sampler;
  require(sampler.empty() || (config_.head.type == "diffusion" && (sampler == "ddim" || sampler == "ddpm")),
          config_.head.type == "diffusion"
              ? "sampler must be ddim or ddpm, got '" + truncate_for_message(sampler) + "'"
              : "a sampler (ddim / ddpm) applies to the diffusion head only, not '" + config_.head.type + "'");
  require(o.n_action_steps >= 1 && o.n_action_steps <= config_.horizon,
          "n_action_steps must be in 1.." + std::to_string(config_.horizon) + " (the horizon), got " +
              std::to_string(o.n_action_steps));
}

Policy make_policy(PolicyConfig config, Normalizer normalizer) { return Policy(std::move(config), std::move(normalizer)); }

std::string describe_inference(const PolicyImpl& policy, const RunnerOptions& options) {
  const auto& c = policy.config();
  const auto& o = options.inference;
  std::ostringstream s;
  s << o.strategy;
  if (policy.head()->has_log_prob() && o.strategy != "denoise") s << ", sigma " << (o.sigma >= 0 ? o.sigma : c.head.sigma);
  if (o.strategy == "sbs") s << ", N " << o.candidates;
  if (o.strategy == "gr") s << ", " << o.gr_steps << " Adam steps";
  if (head_traits(c.head.type).has_sampling_steps) s << ", steps " << (o.steps > 0 ? o.steps : c.head.infer_steps);
  if (c.head.type == "diffusion") s << ", " << (o.sampler.empty() ? c.head.sampler : o.sampler);
  s << ", n_action_steps " << options.n_action_steps;
  return s.str();
}

}  // namespace nfp
