// PolicyRunner: an episode's history, chunk queue, previous action and generator over a shared Policy.
#include "nfp/policy_runner.hpp"

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>

#include "nfp/error.hpp"

namespace nfp {

AgentSpec agent_spec(const PolicyImpl& policy, const RunnerOptions& options) {
  const auto& c = policy.config();
  AgentSpec s;
  s.task = c.task;
  s.policy = c.head.type;
  s.action_dim = c.action_dim;
  s.obs_keys = c.obs_keys;
  s.obs_dims = c.obs_dims;
  s.cameras = c.cameras;
  if (!c.cameras.empty()) {  // what a camera gives: the size in training, before any resize or crop
    const ImageSize camera = camera_size(c.image_preprocess, {c.image_hw.at(0), c.image_hw.at(1)});
    s.image_hw = {camera.height, camera.width};
  }
  s.instruction = has_modality(c, "instruction");
  s.horizon = c.horizon;
  s.history = c.history;
  s.stride = c.stride;
  s.inference = options.inference;
  s.n_action_steps = options.n_action_steps;
  return s;
}

PolicyRunner::PolicyRunner(Policy policy) : PolicyRunner(policy, policy->default_options()) {}

PolicyRunner::PolicyRunner(Policy policy, RunnerOptions options)
    : policy_(std::move(policy)), options_(std::move(options)), gen_(at::make_generator<at::CPUGeneratorImpl>(0)) {
  policy_->check_options(options_);
  reset(0);
}

void PolicyRunner::reset(uint64_t seed) {
  frames_.clear();
  instruction_.clear();
  chunk_ = Chunk{};
  executed_ = executable_ = 0;
  prev_action_ = torch::zeros({policy_->config().action_dim});
  gen_ = at::make_generator<at::CPUGeneratorImpl>(seed);
}

PolicyRunner::Frame PolicyRunner::make_frame(const Observation& obs) const {
  const auto& c = policy_->config();
  Frame frame;
  for (size_t i = 0; i < c.obs_keys.size(); ++i) {
    const auto& key = c.obs_keys[i];
    auto it = obs.lowdim.find(key);
    require(it != obs.lowdim.end(), "policy: the observation lacks key '" + key + "' (this policy was trained on " +
                                        std::to_string(c.obs_keys.size()) + " keys); check the task");
    require(int64_t(it->second.size()) == c.obs_dims[i], "policy: observation '" + key + "' has " +
                                                             std::to_string(it->second.size()) + " values, expected " +
                                                             std::to_string(c.obs_dims[i]));
    for (float v : it->second)
      require(std::isfinite(v), "policy: observation '" + key + "' contains NaN or Inf; refusing to act on it");
    frame.lowdim.push_back(policy_->normalizer().normalize(key, torch::tensor(it->second, torch::kFloat32)).contiguous());
  }
  for (const auto& key : c.cameras) {
    auto it = obs.images.find(key);
    require(it != obs.images.end(),
            "policy: the observation lacks camera image '" + key + "' (render the cameras the policy was trained on)");
    // resized and centre-cropped as in training (nfp/image_preprocess.hpp); checkpoints without either: as is
    const Image img = prepare_image(it->second, c.image_preprocess, {c.image_hw[0], c.image_hw[1]}, key);
    // (H x W x 3) uint8 -> (3 x H x W) float in [0, 1], as the data loader makes them
    auto hwc = torch::from_blob(const_cast<uint8_t*>(img.pixels.data()), {img.height, img.width, 3}, torch::kUInt8);
    frame.images.push_back(hwc.permute({2, 0, 1}).to(torch::kFloat32).div(255.0f).contiguous());
  }
  return frame;
}

void PolicyRunner::observe(const Observation& obs) {
  Frame frame = make_frame(obs);  // validates before anything changes
  instruction_ = obs.instruction;
  const auto& c = policy_->config();
  const size_t keep = size_t((c.history - 1) * c.stride + 1);
  if (frames_.empty())
    frames_.assign(keep, frame);  // the first frame repeats, as at the start of a training episode
  else
    frames_.push_back(std::move(frame));
  while (frames_.size() > keep) frames_.pop_front();
}

ObservationBatch PolicyRunner::history() const {
  const auto& c = policy_->config();
  ObservationBatch out;
  auto frames_of = [&](auto pick) {  // the history's m frames, `stride` apart, oldest first: (1 x m x ...)
    std::vector<torch::Tensor> v;
    for (int64_t j = 0; j < c.history; ++j) v.push_back(pick(frames_[size_t(j * c.stride)]));
    return torch::stack(v).unsqueeze(0);
  };
  for (size_t i = 0; i < c.obs_keys.size(); ++i)
    out.lowdim[c.obs_keys[i]] = frames_of([i](const Frame& f) { return f.lowdim[i]; });
  for (size_t k = 0; k < c.cameras.size(); ++k)
    out.images[c.cameras[k]] = frames_of([k](const Frame& f) { return f.images[k]; });
  out.instructions = {instruction_};
  if (c.prev_action) out.prev_action = prev_action_.unsqueeze(0);
  return out;
}

Chunk PolicyRunner::plan(const Observation& obs) {
  observe(obs);
  return policy_->predict(history(), options_.inference, gen_);
}

namespace {

// What `chunk` (H x A, normalized) still had planned once `consumed` rows were executed: its rows from `consumed` on,
// clamped as they would have been executed, the last row repeated to H rows (the robot holding its last target, as
// training windows pad an episode's end): (1 x H x A).
torch::Tensor continuation(const torch::Tensor& chunk, int64_t consumed) {
  const int64_t H = chunk.size(0);
  auto rest = chunk.narrow(0, consumed, H - consumed).clamp(-1.0, 1.0);
  auto pad = rest[H - consumed - 1].unsqueeze(0).expand({consumed, chunk.size(1)});
  return torch::cat({rest, pad}, 0).unsqueeze(0);
}

}  // namespace

ActStep PolicyRunner::act(const Observation& obs) {
  if (options_.hold_on_nonfinite && !finite_lowdim(obs)) {  // a sensor dropout: hold, plan nothing, remember nothing
    ActStep held;
    auto a = policy_->normalizer().unnormalize(Normalizer::kActionKey, prev_action_.unsqueeze(0)).contiguous();
    held.action.assign(a.data_ptr<float>(), a.data_ptr<float>() + a.numel());
    held.held = true;
    return held;
  }
  observe(obs);
  std::optional<Chunk> planned;
  if (needs_chunk()) planned = policy_->predict(history(), options_.inference, gen_);
  return execute(std::move(planned));
}

ActStep PolicyRunner::execute(std::optional<Chunk> planned) {
  ActStep step;
  if (planned) {
    // The previous chunk, executed to its end, against the observation its actions led to (nfp/policy.hpp).
    if (options_.score_continuation && executable_ > 0 && executed_ == executable_ &&
        options_.n_action_steps < policy_->config().horizon && planned->context.defined() &&
        policy_->head()->has_log_prob())
      planned->continuation_log_prob =
          policy_->log_prob(planned->context, continuation(chunk_.normalized, executed_ / policy_->config().stride))
              .item<double>();
    chunk_ = std::move(*planned);
    executed_ = 0;
    executable_ = options_.n_action_steps * policy_->config().stride;  // a chunk frame stands for `stride` steps
    step.planned = chunk_;
  }
  require(executed_ < executable_, "policy runner: execute() needs a planned chunk when needs_chunk() is true");
  const int64_t row = executed_++ / policy_->config().stride;
  auto a = chunk_.actions[row].contiguous();
  step.action.assign(a.data_ptr<float>(), a.data_ptr<float>() + a.numel());
  prev_action_ = chunk_.normalized[row].clamp(-1.0, 1.0);  // what was executed, in the units the encoder reads
  return step;
}

void PolicyRunner::assume_executed(const Chunk& chunk) {
  prev_action_ = chunk.normalized[options_.n_action_steps - 1].clamp(-1.0, 1.0);
  executed_ = executable_ = 0;
}

}  // namespace nfp
