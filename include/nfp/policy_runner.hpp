// PolicyRunner: one episode (or one client of a server) on a shared, immutable Policy, with LeRobot's chunked
// execution: act() plans an H-step chunk, serves its first n_action_steps actions (each held `stride` control
// steps) from a queue, then re-plans; reset() starts an episode. Everything that changes during an episode lives
// here (MuJoCo's mjData to the Policy's mjModel), so many runners can share one Policy, from several threads
// (one runner per thread: a runner itself is not thread-safe).
//   nfp::PolicyRunner runner(policy);              // the checkpoint's inference options
//   runner.reset(seed);
//   nfp::ActStep step = runner.act(obs);           // obs: nfp::Observation (data units, uint8 images)
//   env.step(step.action);  if (step.planned) log(step.planned->log_prob);
#pragma once
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "nfp/agent.hpp"
#include "nfp/observation.hpp"
#include "nfp/policy.hpp"

namespace nfp {

class PolicyRunner : public Agent {
 public:
  explicit PolicyRunner(Policy policy);             // the checkpoint's options (Policy::default_options)
  PolicyRunner(Policy policy, RunnerOptions options);  // checked by PolicyImpl::check_options
  // Move-only: a copy would share the generator, so two "independent" episodes would draw from one stream.
  PolicyRunner(const PolicyRunner&) = delete;
  PolicyRunner& operator=(const PolicyRunner&) = delete;
  PolicyRunner(PolicyRunner&&) = default;
  PolicyRunner& operator=(PolicyRunner&&) = default;
  ~PolicyRunner() override = default;

  // Clears the history, the queue and the previous action; seeds the runner's sampling generator, so an episode's
  // actions are a function of the policy, the options, the seed and the observations only.
  void reset(uint64_t seed = 0) override;
  // One control step. Throws nfp::Error (leaving the runner as it was) on a missing key or camera, a wrong size or
  // a non-finite value; the image of each camera must be the training size.
  ActStep act(const Observation& obs) override;
  // Pushes `obs` into the history and plans a chunk from it, without touching the queue (latency benchmarks,
  // chunk inspection, servers answering with whole chunks).
  Chunk plan(const Observation& obs);

  // act() in two halves, for a server that plans several runners' chunks in one batched pass:
  //   runner.observe(obs);                                   // validates and pushes obs (throws as act() does)
  //   std::optional<Chunk> chunk;
  //   if (runner.needs_chunk()) chunk = policy->predict_batch({&h, ...}, runner.options().inference, {runner.generator(), ...})[i];
  //   ActStep step = runner.execute(std::move(chunk));      // == act(obs)
  void observe(const Observation& obs);
  bool needs_chunk() const { return executed_ == executable_; }
  ObservationBatch history() const;                          // B = 1, what predict() reads
  at::Generator generator() const { return gen_; }           // the runner's stream (a handle: draws advance it)
  // Installs `planned` (required when needs_chunk()) as the chunk being executed and serves its next action.
  ActStep execute(std::optional<Chunk> planned);
  // For clients that execute chunks themselves (openpi's action-chunk broker): records that the client runs the
  // first n_action_steps actions of `chunk`, so the previous action the next plan conditions on is the last of them.
  void assume_executed(const Chunk& chunk);

  const RunnerOptions& options() const { return options_; }
  const Policy& policy() const { return policy_; }

 private:
  struct Frame {
    std::vector<torch::Tensor> lowdim;  // per obs key (d) normalized
    std::vector<torch::Tensor> images;  // per camera (3 x H x W) float in [0, 1]
  };
  Frame make_frame(const Observation& obs) const;

  Policy policy_;
  RunnerOptions options_;
  std::deque<Frame> frames_;  // newest last; (history - 1) * stride + 1 of them
  std::string instruction_;   // the latest observation's
  Chunk chunk_;               // the chunk being executed
  int64_t executed_ = 0, executable_ = 0;  // control steps served from chunk_, and how many it has
  torch::Tensor prev_action_;  // (A) the last executed action, normalized (zeros after reset)
  at::Generator gen_;
};

}  // namespace nfp
