// Policy = normalizer + observation encoders + action head: the immutable model, loaded once and shared (MuJoCo's
// mjModel). What changes during an episode (history, chunk queue, previous action, RNG, inference options) lives in
// a PolicyRunner (nfp/policy_runner.hpp), one per episode or client; many runners share one Policy, from several
// threads. Checkpoints are read and written by nfp/checkpoint.hpp.
//   nfp::Policy policy = nfp::load_policy("runs/push");
//   nfp::PolicyRunner runner(policy);   runner.reset(seed);
//   nfp::ActStep step = runner.act(obs);   // step.action; step.planned holds the chunk when one was planned
// Encoders (NF-P conditioning): the low-dim history and, per camera, image features of every history frame
// (nfp/image_encoder.hpp), the last executed action (prev_action), and the instruction's pooled embedding
// (nfp/instruction_encoder.hpp) are concatenated and mapped by the state MLP to the head's context; with
// instruction_tokens the instruction's tokens follow that vector as further context tokens (nina-transformer).
// Inference strategies for flow heads, each returning the chunk and its log-likelihood (NF-P, TarFlow):
//   sample   z ~ N(0, sigma^2 I), one inverse pass
//   sbs      best of N samples by log p (one batched pass)
//   gr       K Adam steps ascending log p from a sample; the best chunk seen is kept (never lowers log p)
//   denoise  one score step a + sigma_a^2 grad_a log p(a | o) (sigma_a = the training action noise)
#pragma once
#include <torch/torch.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "nfp/action_head.hpp"
#include "nfp/image_encoder.hpp"
#include "nfp/image_preprocess.hpp"
#include "nfp/instruction_encoder.hpp"
#include "nfp/json_io.hpp"
#include "nfp/normalizer.hpp"
#include "nfp/observation_batch.hpp"

namespace nfp {

struct InferenceOptions {
  std::string strategy = "sample";  // sample | sbs | gr | denoise (the last three need a flow head)
  double sigma = -1;                // base std (< 0: the head's configured sigma)
  int64_t candidates = 128;         // sbs: N
  int64_t gr_steps = 10;            // gr: K Adam steps
  double gr_lr = 0.01;              // gr: Adam step size (normalized action units)
  int64_t steps = 0;                // diffusion / flow matching sampling steps (0: configured)
  std::string sampler;              // diffusion: "ddim" | "ddpm" (empty: configured)
};
void to_json(json& j, const InferenceOptions& o);
void from_json(const json& j, InferenceOptions& o);
std::vector<std::string> strategy_names();
// Throws nfp::Error unless `strategy` is one of strategy_names() and `head` supports it (all but "sample" need a
// likelihood, i.e. a flow head). run_strategy, `nfp eval` and `nfp tune` all check through it.
void check_strategy(const std::string& strategy, const ActionHeadImpl& head);

// Every key with its default; config.json holds this with "type" = the head's type.
struct PolicyConfig {
  std::vector<std::string> obs = {"state"};  // modalities: state (low-dim keys), images (cameras), instruction
  std::vector<std::string> obs_keys;       // low-dim observation keys, in this order (may be empty with images)
  std::vector<int64_t> obs_dims;           // (keys) widths
  int64_t action_dim = 0;
  int64_t history = 2;                     // m observation frames (Diffusion Policy n_obs_steps 2)
  int64_t horizon = 16;                    // H actions per chunk
  int64_t stride = 1;                      // s: frames of a window are s steps apart (NF-P); an action is held s steps
  int64_t n_action_steps = 2;              // executed per chunk before re-planning (push-two-goals: 2 beats 8,
                                           // 87% vs 42% for nina-mlp; the pushing phase needs feedback)
  bool prev_action = false;                // condition on the last executed action (NF-P)
  int64_t encoder_hidden = 256;            // state MLP: Linear -> LayerNorm -> GELU, encoder_layers times
  int64_t encoder_layers = 2;
  int64_t context_dim = 256;               // encoder output = head context
  std::vector<std::string> cameras;        // image observation keys ("top_image"), in this order
  std::vector<int64_t> image_hw;           // (2) height, width of the images the encoder sees (after the crop)
  // Camera images resized at load / cropped (random in training, centre at inference): config.json's
  // "image_resize" {"to": [H, W], "from": [[H, W] per camera]} and "image_crop" {"to": [h, w], "from": [H, W]},
  // null when off (nfp/image_preprocess.hpp). PolicyRunner prepares every camera image with it.
  ImagePreprocess image_preprocess;
  ImageEncoderConfig image_encoder;
  InstructionEncoderConfig instruction_encoder;  // used when obs has "instruction"; holds the vocabulary
  // With "instruction" in obs: the head's context is (B x 1+max_tokens x C), the encoded observation followed
  // by the instruction's tokens, so that each coupling's cross-attention reads the words themselves (NinA's
  // contract: a language model's tokens are the flow's context). Needs the nina-transformer head (MLP heads take
  // one vector); its default there.
  bool instruction_tokens = false;
  HeadConfig head;
  InferenceOptions inference;              // a runner's defaults (act(), nfp eval)
  std::string task;                        // the simulated task the data came from ("" if unknown)
};
void to_json(json& j, const PolicyConfig& c);
void from_json(const json& j, PolicyConfig& c);

// One planned chunk.
struct Chunk {
  torch::Tensor actions;     // (H x A) in data units, clamped to the normalized range [-1, 1] first
  torch::Tensor normalized;  // (H x A) the head's chunk, normalized, unclamped
  double log_prob = NAN;     // log p(normalized chunk | obs) for heads with a likelihood, NaN otherwise
  double log_prob_spread = NAN;  // sbs: std of the candidates' log p (nfp/monitor.hpp's spread score), else NaN
  double latency_s = 0;      // wall time of encoder + head + strategy
  // The head's context it was planned from (1 x C), or (1 x 1+T x C) with instruction tokens: the embedding the
  // observation-side monitor score reads (nfp/embedding_monitor.hpp), at no extra pass.
  torch::Tensor context;
  // With RunnerOptions::score_continuation: log p, under this chunk's context, of what the previous chunk still had
  // planned (its rows from n_action_steps on, the last row repeated to H, clamped as executed): how likely the
  // policy, given the observation the executed actions led to, finds the plan it was carrying out. NaN otherwise.
  double continuation_log_prob = NAN;
};

// What a runner does with the model: how it samples, and how much of each chunk it executes before re-planning.
// A checkpoint's defaults are PolicyImpl::default_options() (config.json's "inference" and "n_action_steps").
struct RunnerOptions {
  InferenceOptions inference;
  int64_t n_action_steps = 2;
  // An observation holding NaN / Inf (a sensor dropout): false, act() throws nfp::Error (the default: a caller that
  // does not check gets no action); true, act() holds the last executed action (at an episode's start the
  // normalized zero action), flagged ActStep::held, and leaves the history and the queue as they were.
  bool hold_on_nonfinite = false;
  // Flow heads: every re-plan also scores the previous chunk's continuation (Chunk::continuation_log_prob), one
  // extra batch-1 density pass per chunk; the evaluator turns it on when it records monitor scores.
  bool score_continuation = false;
};

bool has_modality(const PolicyConfig& c, const std::string& modality);

class PolicyImpl : public torch::nn::Module {
 public:
  PolicyImpl(PolicyConfig config, Normalizer normalizer);

  // Encoder inputs (normalized, B rows) -> context (B x C), or (B x 1+max_tokens x C) with instruction_tokens.
  // Training calls it on a Batch (which is an ObservationBatch); predict() on one history.
  torch::Tensor encode(const ObservationBatch& input);
  // The chunk for one observation history (`history`: B = 1, as a runner builds it). In eval mode (load_policy
  // sets it) it reads nothing but the weights, so several threads may call it at once (each with its own
  // generator). Throws nfp::Error in training mode, on bad shapes, or if the head produced non-finite actions.
  Chunk predict(const ObservationBatch& history, const InferenceOptions& options, at::Generator& gen) const;
  // Several runners' chunks in one batched pass (a server's dynamic batching): histories[i] (B = 1 each) with
  // generators[i]. Every chunk equals what predict(histories[i], options, generators[i]) returns, up to the float
  // rounding of a larger matrix product (the noise of row i comes from generators[i] alone); latency_s is the
  // batch's. Throws nfp::Error as predict() does, for the whole batch.
  std::vector<Chunk> predict_batch(const std::vector<const ObservationBatch*>& histories,
                                   const InferenceOptions& options, std::vector<at::Generator> generators) const;

  // log p of normalized chunks (B x H x A) given contexts as Chunk::context holds them (B rows); flow heads only.
  torch::Tensor log_prob(const torch::Tensor& context, const torch::Tensor& normalized) const;

  ActionHead head() const { return head_; }
  // Where the weights are (policy->to(device) moves them; nfp/device.hpp). predict() takes CPU inputs and a CPU
  // generator wherever the weights are, and returns CPU chunks.
  torch::Device device() const;
  const PolicyConfig& config() const { return config_; }
  const Normalizer& normalizer() const { return normalizer_; }
  RunnerOptions default_options() const { return {config_.inference, config_.n_action_steps}; }
  // Throws nfp::Error unless the strategy exists and the head supports it, and 1 <= n_action_steps <= horizon.
  void check_options(const RunnerOptions& options) const;

 private:
  ImageEncoder camera_encoder(size_t camera) { return image_encoders_[image_encoders_.size() == 1 ? 0 : camera]; }

  PolicyConfig config_;
  Normalizer normalizer_;
  torch::nn::Sequential encoder_{nullptr};
  std::vector<ImageEncoder> image_encoders_;  // one (shared) or one per camera
  InstructionEncoder instruction_encoder_{nullptr};
  torch::nn::Linear token_proj_{nullptr};  // instruction token (D) -> context width (C), with instruction_tokens
  ActionHead head_;
};
TORCH_MODULE(Policy);

// Builds a policy for `config` (head.context_dim / action_dim / horizon filled in from it).
Policy make_policy(PolicyConfig config, Normalizer normalizer);
// The settings a runner samples with, as one line: "sbs, sigma 0.1, N 32, n_action_steps 4" (flow heads),
// "sample, steps 10, n_action_steps 2" (diffusion / flow matching), "sample, n_action_steps 2" (regression).
std::string describe_inference(const PolicyImpl& policy, const RunnerOptions& options);

// The strategies on a batch of contexts (B x C): chunks (B x H x A) normalized and their log p (B).
struct StrategyResult {
  torch::Tensor actions;
  torch::Tensor log_prob;         // undefined for heads without a likelihood
  torch::Tensor log_prob_spread;  // sbs: (B) std of the N candidates' log p; undefined otherwise
};
// row_generators: empty, or one per context row (SampleOptions::row_generators): then `gen` is not used.
StrategyResult run_strategy(ActionHeadImpl& head, const torch::Tensor& ctx, const InferenceOptions& options,
                            at::Generator& gen, const std::vector<at::Generator>& row_generators = {});

}  // namespace nfp
