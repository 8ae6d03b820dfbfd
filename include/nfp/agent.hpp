// An agent acts in episodes: the evaluator rolls out any of them the same way. A PolicyRunner is the local one
// (nfp/policy_runner.hpp); a client of a policy server (nfp/serve_client.hpp) is a remote one.
//   nfp::PolicyRunner runner(policy);   nfp::Agent& agent = runner;
//   agent.reset(seed);   nfp::ActStep step = agent.act(obs);
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "nfp/json_io.hpp"
#include "nfp/observation.hpp"
#include "nfp/policy.hpp"

namespace nfp {

struct ActStep {
  std::vector<float> action;     // (A) data units, to execute now
  std::optional<Chunk> planned;  // the chunk planned at this step, when the queue was empty
};

class Agent {
 public:
  virtual ~Agent() = default;
  // Starts an episode: the actions that follow are a function of the seed and the observations only.
  virtual void reset(uint64_t seed) = 0;
  // One control step; throws nfp::Error on an observation the policy cannot act on.
  virtual ActStep act(const Observation& obs) = 0;
};

// What an evaluation needs to know of the policy behind an agent: what it observes and how it samples.
struct AgentSpec {
  std::string task;                  // the task it was trained on ("" if unknown)
  std::string policy;                // the head's type
  int64_t action_dim = 0;
  std::vector<std::string> obs_keys;
  std::vector<int64_t> obs_dims;     // (keys)
  std::vector<std::string> cameras;  // "<camera>_image" keys
  std::vector<int64_t> image_hw;     // (2) with cameras: the camera images' size in training (before any resize /
                                     // crop the policy applies itself)
  bool instruction = false;          // reads a natural-language instruction
  int64_t horizon = 0;               // H actions per planned chunk
  int64_t history = 1;               // observation frames per plan, `stride` control steps apart
  int64_t stride = 1;
  json inference = json::object();   // the sampling settings (InferenceOptions as JSON)
  int64_t n_action_steps = 1;
};
AgentSpec agent_spec(const PolicyImpl& policy, const RunnerOptions& options);

}  // namespace nfp
