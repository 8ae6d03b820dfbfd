// RuntimeRunner (nfp/runtime_runner.hpp): PolicyRunner's episode bookkeeping over the libtorch-free runtime.
#include "nfp/runtime_runner.hpp"

#include <chrono>
#include <cmath>

#include "nfp/error.hpp"

namespace nfp {
namespace {

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

}  // namespace

std::shared_ptr<const runtime::Model> load_runtime_model(const std::string& path, const std::string& weights) {
  try {
    return std::make_shared<const runtime::Model>(path, weights);
  } catch (const std::exception& e) {
    throw Error(e.what());
  }
}

RuntimeRunner::RuntimeRunner(std::shared_ptr<const runtime::Model> model, const RuntimeRunnerOptions& o)
    : model_(std::move(model)) {
  const nfp_rt_info& info = model_->info();
  const json cfg = json::parse(model_->config_json());
  require(std::string(info.kind) == "policy" && cfg.contains("policy"),
          std::string("the runtime model is a ") + info.kind + " model, not a policy; export a policy checkpoint with "
          "`nfp export`");
  const json& p = cfg.at("policy");
  spec_.task = p.value("task", std::string());
  spec_.policy = p.value("type", std::string());
  spec_.action_dim = info.action_dim;
  spec_.obs_keys = p.at("obs_keys").get<std::vector<std::string>>();
  spec_.obs_dims = p.at("obs_dims").get<std::vector<int64_t>>();
  for (int i = 0; i < info.cameras; ++i) spec_.cameras.push_back(nfp_rt_model_camera(model_->get(), i));
  if (info.cameras > 0) spec_.image_hw = {info.image_height, info.image_width};
  spec_.instruction = info.instruction != 0;
  spec_.horizon = info.horizon;
  spec_.history = p.at("history").get<int64_t>();
  spec_.stride = p.at("stride").get<int64_t>();
  prev_action_ = p.at("prev_action").get<bool>();
  InferenceOptions file;
  from_json(p.value("inference", json::object()), file);
  inference_ = file;
  if (!o.strategy.empty()) inference_.strategy = o.strategy;
  if (o.sigma >= 0) inference_.sigma = o.sigma;
  if (o.candidates > 0) inference_.candidates = o.candidates;
  if (o.gr_steps >= 0) inference_.gr_steps = o.gr_steps;
  const std::string& s = inference_.strategy;
  require(s == "sample" || s == "sbs" || s == "gr",
          "--strategy " + s + ": the runtime runs sample, sbs and gr (denoise needs libtorch: --backend torch)");
  spec_.n_action_steps = o.n_action_steps > 0 ? o.n_action_steps : p.at("n_action_steps").get<int64_t>();
  require(spec_.n_action_steps >= 1 && spec_.n_action_steps <= spec_.horizon,
          "n_action_steps must be in 1.." + std::to_string(spec_.horizon) + " (the horizon)");
  spec_.inference = inference_;
  hold_on_nonfinite_ = o.hold_on_nonfinite;
  sigma_ = float(inference_.sigma >= 0 ? inference_.sigma : info.sigma);
  ws_ = std::make_unique<runtime::Workspace>(*model_, s == "sbs" ? int(inference_.candidates) : 1);
  // PolicyRunner starts from the normalized zero action: in data units, the action statistics' centre (the first A
  // of the chunk's); the previous action at a reset, and what a dropout at the first step holds.
  const auto mean = cfg.at("normalization").value("action_mean", std::vector<float>{});
  prev_init_.assign(size_t(info.action_dim), 0.0f);
  if (!mean.empty()) prev_init_.assign(mean.begin(), mean.begin() + info.action_dim);
  state_.assign(size_t(info.obs_dim), 0.0f);
  chunk_.assign(size_t(info.dim), 0.0f);
  continuation_.assign(size_t(info.dim), 0.0f);
  context_.assign(size_t(info.context_tokens) * size_t(info.context_dim), 0.0f);
  score_continuation_ = o.score_continuation;
  reset(0);
}

std::string RuntimeRunner::describe() const {
  std::string d = inference_.strategy + ", sigma " + std::to_string(sigma_).substr(0, 5);
  if (inference_.strategy == "sbs") d += ", N " + std::to_string(inference_.candidates);
  if (inference_.strategy == "gr") d += ", " + std::to_string(inference_.gr_steps) + " Adam steps";
  return d + ", n_action_steps " + std::to_string(spec_.n_action_steps) + " (runtime, " + info().kernels +
         " kernels, " + info().weights + " weights)";
}

void RuntimeRunner::reset(uint64_t seed) {
  frames_.clear();
  instruction_.clear();
  executed_ = executable_ = 0;
  prev_ = prev_init_;
  seed_ = seed;
  plans_ = 0;
}

RuntimeRunner::Frame RuntimeRunner::make_frame(const Observation& obs) const {
  Frame f;
  for (size_t i = 0; i < spec_.obs_keys.size(); ++i) {
    const auto& key = spec_.obs_keys[i];
    auto it = obs.lowdim.find(key);
    require(it != obs.lowdim.end(), "policy: the observation lacks key '" + key + "'; check the task");
    require(int64_t(it->second.size()) == spec_.obs_dims[i], "policy: observation '" + key + "' has " +
                                                                 std::to_string(it->second.size()) + " values, expected " +
                                                                 std::to_string(spec_.obs_dims[i]));
    for (float v : it->second)
      require(std::isfinite(v), "policy: observation '" + key + "' contains NaN or Inf; refusing to act on it");
    f.lowdim.push_back(it->second);
  }
  for (const auto& key : spec_.cameras) {
    auto it = obs.images.find(key);
    require(it != obs.images.end(), "policy: the observation lacks camera image '" + key + "'");
    const Image& im = it->second;
    require(im.height == spec_.image_hw[0] && im.width == spec_.image_hw[1] &&
                im.pixels.size() == size_t(im.height) * size_t(im.width) * 3,
            "policy: camera '" + key + "' gives " + std::to_string(im.height) + " x " + std::to_string(im.width) +
                " images; the runtime takes the training size " + std::to_string(spec_.image_hw[0]) + " x " +
                std::to_string(spec_.image_hw[1]));
    f.images.push_back(im);
  }
  return f;
}

void RuntimeRunner::observe(const Observation& obs) {
  Frame frame = make_frame(obs);  // validates before anything changes
  const size_t keep = size_t((spec_.history - 1) * spec_.stride + 1);
  if (frames_.empty()) frames_.assign(keep, frame);  // the first frame repeats, as PolicyRunner does
  else frames_.push_back(std::move(frame));
  while (frames_.size() > keep) frames_.pop_front();
  instruction_ = obs.instruction;
}

Chunk RuntimeRunner::plan() {
  require(!frames_.empty(), "policy runner: plan() needs an observation first");
  // The state vector: each key's history (oldest first), key by key, then the previous action; images camera-major.
  size_t at = 0;
  for (size_t i = 0; i < spec_.obs_keys.size(); ++i)
    for (int64_t j = 0; j < spec_.history; ++j)
      for (float v : frames_[size_t(j * spec_.stride)].lowdim[i]) state_[at++] = v;
  if (prev_action_)
    for (float v : prev_) state_[at++] = v;
  image_ptrs_.clear();
  for (size_t c = 0; c < spec_.cameras.size(); ++c)
    for (int64_t j = 0; j < spec_.history; ++j) image_ptrs_.push_back(frames_[size_t(j * spec_.stride)].images[c].pixels.data());
  const auto t0 = std::chrono::steady_clock::now();
  const uint64_t seed = splitmix64(seed_ ^ splitmix64(plans_++));
  double log_prob = NAN, continuation_log_prob = NAN;
  // The previous chunk's continuation (Chunk::continuation_log_prob), taken before the new plan overwrites it.
  const int64_t A = spec_.action_dim, H = spec_.horizon, n = spec_.n_action_steps;
  const bool score_continuation = score_continuation_ && executable_ > 0 && executed_ == executable_ && n < H;
  if (score_continuation) {
    std::copy(chunk_.begin() + n * A, chunk_.end(), continuation_.begin());
    for (int64_t r = H - n; r < H; ++r)
      std::copy(chunk_.end() - A, chunk_.end(), continuation_.begin() + r * A);
  }
  nfp_rt_status st = ws_->observe(state_, image_ptrs_, instruction_.c_str());
  const std::string& s = inference_.strategy;
  if (st == NFP_RT_OK) {
    if (s == "sbs") st = ws_->sbs({}, int(inference_.candidates), sigma_, seed, chunk_, &log_prob);
    else if (s == "gr") st = ws_->gr({}, int(inference_.gr_steps), float(inference_.gr_lr), sigma_, seed, chunk_, &log_prob);
    else st = ws_->sample({}, sigma_, seed, chunk_, &log_prob);
  }
  const double latency = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  require(st == NFP_RT_OK, std::string("policy: the runtime refused the observation (") + nfp_rt_status_string(st) +
                               "); refusing to act on it");
  Chunk c;
  if (score_continuation && ws_->log_prob({}, continuation_, 1, &continuation_log_prob) == NFP_RT_OK)
    c.continuation_log_prob = continuation_log_prob;
  if (!context_.empty() && ws_->context(context_) == NFP_RT_OK) {
    const int64_t N = info().context_tokens, C = info().context_dim;
    c.context = torch::from_blob(context_.data(), {N, C}, torch::kFloat32).clone();
    c.context = N == 1 ? c.context : c.context.unsqueeze(0);  // as PolicyImpl::predict: (1 x C) or (1 x N x C)
  }
  c.actions = torch::from_blob(chunk_.data(), {spec_.horizon, spec_.action_dim}, torch::kFloat32).clone();
  c.log_prob = log_prob;
  c.latency_s = latency;
  return c;
}

ActStep RuntimeRunner::execute(std::optional<Chunk> planned) {
  ActStep step;
  if (planned) {
    step.planned = std::move(*planned);
    const float* a = step.planned->actions.data_ptr<float>();
    std::copy(a, a + chunk_.size(), chunk_.begin());
    executed_ = 0;
    executable_ = spec_.n_action_steps * spec_.stride;  // a chunk frame stands for `stride` steps
  }
  require(executed_ < executable_, "policy runner: execute() needs a planned chunk when needs_chunk() is true");
  const int64_t row = executed_++ / spec_.stride;
  step.action.assign(chunk_.begin() + row * spec_.action_dim, chunk_.begin() + (row + 1) * spec_.action_dim);
  prev_ = step.action;  // clamped to the normalized range by the runtime, as PolicyRunner's previous action
  return step;
}

void RuntimeRunner::assume_executed(const Chunk& chunk) {
  const float* a = chunk.actions.data_ptr<float>() + (spec_.n_action_steps - 1) * spec_.action_dim;
  prev_.assign(a, a + spec_.action_dim);
  executed_ = executable_ = 0;
}

ActStep RuntimeRunner::act(const Observation& obs) {
  // A sensor dropout: hold the last executed action, plan nothing, remember nothing.
  if (hold_on_nonfinite_ && !finite_lowdim(obs)) {
    ActStep held;
    held.action = prev_;
    held.held = true;
    return held;
  }
  observe(obs);
  std::optional<Chunk> planned;
  if (needs_chunk()) planned = plan();
  return execute(std::move(planned));
}

}  // namespace nfp
