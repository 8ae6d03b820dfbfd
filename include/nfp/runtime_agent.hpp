// An exported policy (.nfpr) on the libtorch-free runtime as an Agent: `nfp eval --backend runtime` rolls it out
// with the same loop as a PolicyRunner, so the success measured is that of the code a robot would run. It keeps
// what PolicyRunner keeps (the observation history, the chunk being executed, the previous action) in data
// units, and plans each chunk with one nfp_rt_observe + one sampling call (sample, SBS or GR) on its workspace.
//   nfp::RuntimeAgent agent("policy.nfpr", {});      // the file's inference settings
//   agent.reset(seed);   nfp::ActStep step = agent.act(obs);
#pragma once
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "nfp/agent.hpp"
#include "nfp/runtime.hpp"

namespace nfp {

// Each field left unset takes the file's setting (config.policy.inference / n_action_steps), as `nfp eval` does
// with a checkpoint's.
struct RuntimeAgentOptions {
  std::string strategy;          // sample | sbs | gr ("": the file's; denoise needs libtorch)
  double sigma = -1;             // < 0: the file's
  int64_t candidates = 0;        // sbs N (0: the file's)
  int64_t gr_steps = -1;         // gr: Adam steps (< 0: the file's)
  int64_t n_action_steps = 0;    // 0: the file's
  std::string weights = "f32";   // f32 | bf16 | int8 | w8a8 (nfp_rt_load_options)
};

class RuntimeAgent : public Agent {
 public:
  // Loads the file; throws nfp::Error when it is not a policy or the options do not fit it.
  RuntimeAgent(const std::string& path, const RuntimeAgentOptions& options);

  const AgentSpec& spec() const { return spec_; }
  const nfp_rt_info& info() const { return model_.info(); }
  // "sample, sigma 0.5, n_action_steps 2 (runtime, avx512 kernels, f32 weights)"
  std::string describe() const;

  void reset(uint64_t seed) override;
  // Throws nfp::Error (leaving the agent as it was) on a missing key or camera, a wrong size, or a non-finite value.
  ActStep act(const Observation& obs) override;

 private:
  struct Frame {
    std::vector<std::vector<float>> lowdim;  // per obs key, data units
    std::vector<const Image*> images;        // per camera: into `stored`
    std::vector<Image> stored;
  };
  Frame make_frame(const Observation& obs) const;

  runtime::Model model_;
  std::unique_ptr<runtime::Workspace> ws_;
  AgentSpec spec_;
  InferenceOptions inference_;
  float sigma_ = 0;
  bool prev_action_ = false;
  std::vector<float> prev_init_;  // the previous action at a reset: normalized zero, in data units
  std::deque<Frame> frames_;
  std::string instruction_;
  std::vector<float> state_, chunk_, prev_;
  std::vector<const uint8_t*> image_ptrs_;
  double chunk_log_prob_ = 0;
  int64_t executed_ = 0, executable_ = 0;
  uint64_t seed_ = 0, plans_ = 0;
};

}  // namespace nfp
