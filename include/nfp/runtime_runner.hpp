// PolicyRunner's twin on the libtorch-free runtime: one episode (or one client of a server) of an exported policy
// (.nfpr), with the same bookkeeping in data units (the observation history, the chunk being executed, the previous
// action) and the same API, so `nfp eval --backend runtime` and `nfp serve --model` roll it out exactly as they roll
// out a PolicyRunner: the success measured is that of the code a robot would run. Each chunk is one nfp_rt_observe
// + one sampling call (sample, SBS or GR) on the runner's own workspace; many runners share one loaded model.
//   auto model = nfp::load_runtime_model("policy.nfpr");
//   nfp::RuntimeRunner runner(model, {});      // the file's inference settings
//   runner.reset(seed);   nfp::ActStep step = runner.act(obs);
#pragma once
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "nfp/agent.hpp"
#include "nfp/runtime.hpp"

namespace nfp {

// Each field left unset takes the file's setting (config.policy.inference / n_action_steps), as `nfp eval` does
// with a checkpoint's.
struct RuntimeRunnerOptions {
  std::string strategy;          // sample | sbs | gr ("": the file's; denoise needs libtorch)
  double sigma = -1;             // < 0: the file's
  int64_t candidates = 0;        // sbs N (0: the file's)
  int64_t gr_steps = -1;         // gr: Adam steps (< 0: the file's)
  int64_t n_action_steps = 0;    // 0: the file's
  bool hold_on_nonfinite = false;  // as RunnerOptions::hold_on_nonfinite
  bool score_continuation = false;  // as RunnerOptions::score_continuation
};

// Loads an .nfpr at a weight precision (f32 | bf16 | int8 | w8a8); nfp::Error with the runtime's message.
std::shared_ptr<const runtime::Model> load_runtime_model(const std::string& path, const std::string& weights = "f32");

class RuntimeRunner : public Agent {
 public:
  // Throws nfp::Error when the model is not a policy or the options do not fit it.
  RuntimeRunner(std::shared_ptr<const runtime::Model> model, const RuntimeRunnerOptions& options);
  RuntimeRunner(const RuntimeRunner&) = delete;
  RuntimeRunner& operator=(const RuntimeRunner&) = delete;

  const AgentSpec& spec() const { return spec_; }
  const nfp_rt_info& info() const { return model_->info(); }
  bool has_log_prob() const { return true; }
  // "sample, sigma 0.5, n_action_steps 2 (runtime, avx512 kernels, f32 weights)"
  std::string describe() const;

  void reset(uint64_t seed) override;
  // Throws nfp::Error (leaving the runner as it was) on a missing key or camera, a wrong size, or a non-finite value.
  ActStep act(const Observation& obs) override;

  // act() in parts, as PolicyRunner (a server answering step and chunk requests):
  void observe(const Observation& obs);  // validates and pushes obs
  bool needs_chunk() const { return executed_ == executable_; }
  Chunk plan();                          // the chunk for the history observed (one runtime pass); nfp::Error if refused
  ActStep execute(std::optional<Chunk> planned);
  void assume_executed(const Chunk& chunk);  // the client runs the first n_action_steps actions of `chunk` itself

 private:
  struct Frame {
    std::vector<std::vector<float>> lowdim;  // per obs key, data units
    std::vector<Image> images;               // per camera
  };
  Frame make_frame(const Observation& obs) const;

  std::shared_ptr<const runtime::Model> model_;
  std::unique_ptr<runtime::Workspace> ws_;
  AgentSpec spec_;
  InferenceOptions inference_;
  float sigma_ = 0;
  bool prev_action_ = false, hold_on_nonfinite_ = false, score_continuation_ = false;
  std::vector<float> prev_init_;  // the previous action at a reset: the normalized zero action, in data units
  std::deque<Frame> frames_;
  std::string instruction_;
  std::vector<float> state_, chunk_, prev_, continuation_, context_;
  std::vector<const uint8_t*> image_ptrs_;
  int64_t executed_ = 0, executable_ = 0;
  uint64_t seed_ = 0, plans_ = 0;
};

}  // namespace nfp
