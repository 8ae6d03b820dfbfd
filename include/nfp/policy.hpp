// Policy = normalizer + observation encoders + action head, with LeRobot's chunked execution: predict_chunk() plans H actions, act() serves the first
// n_action_steps of a chunk from a queue and then re-plans; reset() starts an episode.
//   nfp::Policy p = nfp::load_policy("runs/push");            // a checkpoint directory
//   p->reset();  std::vector<float> a = p->act(obs.lowdim);    // one action per control step
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

#include <deque>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "nfp/action_head.hpp"
#include "nfp/image_encoder.hpp"
#include "nfp/instruction_encoder.hpp"
#include "nfp/json_io.hpp"
#include "nfp/normalizer.hpp"

namespace nfp {

struct InferenceOptions {
  std::string strategy = "sample";  // sample | sbs | gr | denoise (the last three need a flow head)
  double sigma = -1;                // base std (< 0: the head's configured sigma)
  int64_t candidates = 128;         // sbs: N
  int64_t gr_steps = 10;            // gr: K Adam steps
  double gr_lr = 0.01;              // gr: Adam step size (normalized action units)
  int64_t steps = 0;                // diffusion / flow matching sampling steps (0: configured)
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
  std::vector<int64_t> image_hw;           // (2) height, width of every camera's images
  ImageEncoderConfig image_encoder;
  InstructionEncoderConfig instruction_encoder;  // used when obs has "instruction"; holds the vocabulary
  // With "instruction" in obs: the head's context is (B x 1+max_tokens x C), the encoded observation followed
  // by the instruction's tokens, so that each coupling's cross-attention reads the words themselves (NinA's
  // contract: a language model's tokens are the flow's context). Needs the nina-transformer head (MLP heads take
  // one vector); its default there.
  bool instruction_tokens = false;
  HeadConfig head;
  InferenceOptions inference;              // defaults used by act() / nfp eval
  std::string task;                        // the simulated task the data came from ("" if unknown)
};
void to_json(json& j, const PolicyConfig& c);
void from_json(const json& j, PolicyConfig& c);

struct ChunkResult {
  torch::Tensor actions;   // (H x A) in data units, clamped to the normalized range [-1, 1] first
  torch::Tensor normalized;  // (H x A) the head's chunk, normalized, unclamped
  double log_prob = NAN;   // log p(normalized chunk | obs) for flow heads, NaN otherwise
  double latency_s = 0;    // wall time of encoder + head
};

bool has_modality(const PolicyConfig& c, const std::string& modality);

// A batch of encoder inputs (B = batch).
struct PolicyInput {
  std::map<std::string, torch::Tensor> lowdim;  // key -> (B x m x d) normalized
  std::map<std::string, torch::Tensor> images;  // camera key -> (B x m x 3 x H x W) float in [0, 1]
  std::vector<std::string> instructions;        // (B), with "instruction" in obs
  torch::Tensor prev_action;                    // (B x A) normalized, with prev_action
};

// One control step's observation in data units (what an environment gives).
struct PolicyObservation {
  std::map<std::string, std::vector<float>> lowdim;
  std::map<std::string, torch::Tensor> images;  // camera key -> (H x W x 3) uint8 RGB
  std::string instruction;
};

class PolicyImpl : public torch::nn::Module {
 public:
  PolicyImpl(PolicyConfig config, Normalizer normalizer);

  // Training: encoder inputs -> context (B x C), or (B x 1+max_tokens x C) with instruction_tokens.
  torch::Tensor encode(const PolicyInput& input);
  torch::Tensor encode(const std::map<std::string, torch::Tensor>& obs, const torch::Tensor& prev_action);
  ActionHead head() { return head_; }

  // Chunk for one observation history: obs[key] (m x d) normalized, prev (A) normalized or undefined.
  ChunkResult predict_chunk_normalized(const std::map<std::string, torch::Tensor>& obs, const torch::Tensor& prev,
                                       const InferenceOptions& options, at::Generator& gen);
  // Same with images (m x 3 x H x W) and an instruction: `input` holds one unbatched observation history.
  ChunkResult predict_chunk_normalized(const PolicyInput& input, const InferenceOptions& options, at::Generator& gen);

  // Episode interface (data units). act() throws nfp::Error on missing keys, wrong sizes or non-finite values.
  void reset(uint64_t seed = 0);  // clears history and queue; seeds the policy's sampling generator
  std::vector<float> act(const std::map<std::string, std::vector<float>>& obs);
  std::vector<float> act(const PolicyObservation& obs);  // with images / instruction
  // Plans a chunk from the current history after pushing `obs` (as act does, without the queue).
  ChunkResult predict_chunk(const std::map<std::string, std::vector<float>>& obs);
  ChunkResult predict_chunk(const PolicyObservation& obs);
  const ChunkResult& last_chunk() const { return last_; }
  int64_t chunks_planned() const { return chunks_; }

  const PolicyConfig& config() const { return config_; }
  PolicyConfig& mutable_config() { return config_; }
  const Normalizer& normalizer() const { return normalizer_; }

 private:
  void push_observation(const PolicyObservation& obs);
  PolicyInput history_input() const;
  ImageEncoder camera_encoder(size_t camera) { return image_encoders_[image_encoders_.size() == 1 ? 0 : camera]; }

  PolicyConfig config_;
  Normalizer normalizer_;
  torch::nn::Sequential encoder_{nullptr};
  std::vector<ImageEncoder> image_encoders_;  // one (shared) or one per camera
  InstructionEncoder instruction_encoder_{nullptr};
  torch::nn::Linear token_proj_{nullptr};  // instruction token (D) -> context width (C), with instruction_tokens
  ActionHead head_;
  // episode state
  struct Frame {
    std::vector<float> lowdim;          // normalized, cat of keys
    std::vector<torch::Tensor> images;  // per camera (3 x H x W) float in [0, 1]
  };
  std::deque<Frame> frames_;              // newest last
  std::string instruction_;               // the latest observation's instruction
  std::deque<std::vector<float>> queue_;   // actions to execute (data units)
  std::vector<float> prev_normalized_;     // last executed action, normalized
  at::Generator gen_;
  ChunkResult last_;
  int64_t chunks_ = 0;
};
TORCH_MODULE(Policy);

// Builds a policy for `config` (head.context_dim / action_dim / horizon filled in from it).
Policy make_policy(PolicyConfig config, Normalizer normalizer);
// Checkpoint directory: config.json, model.safetensors, stats.json (nfp/checkpoint.hpp writes them).
void save_policy(Policy& policy, const std::filesystem::path& dir);  // into an existing directory
Policy load_policy(const std::filesystem::path& dir);                 // dir or dir/checkpoint
// The settings act() samples with, as one line: "sbs, sigma 0.1, N 32, n_action_steps 4" (flow heads),
// "sample, steps 10, n_action_steps 2" (diffusion / flow matching), "sample, n_action_steps 2" (regression).
std::string describe_inference(Policy& policy);
// The directory holding config.json: `dir` itself or dir/checkpoint (a run directory); throws if neither.
std::filesystem::path checkpoint_dir(const std::filesystem::path& dir);

// The strategies on a batch of contexts (B x C): chunks (B x H x A) normalized and their log p (B).
struct StrategyResult {
  torch::Tensor actions;
  torch::Tensor log_prob;  // undefined for heads without a likelihood
};
StrategyResult run_strategy(ActionHeadImpl& head, const torch::Tensor& ctx, const InferenceOptions& options,
                            at::Generator& gen);

}  // namespace nfp
