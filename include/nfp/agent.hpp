// An agent acts in episodes: the evaluator rolls out any of them the same way. A PolicyRunner is the local one
// (nfp/policy_runner.hpp); a client of a policy server (nfp/serve_client.hpp) is a remote one.
//   nfp::PolicyRunner runner(policy);   nfp::Agent& agent = runner;
//   agent.reset(seed);   nfp::ActStep step = agent.act(obs);
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "nfp/agent_spec.hpp"
#include "nfp/observation.hpp"
#include "nfp/policy.hpp"

namespace nfp {

struct ActStep {
  std::vector<float> action;     // (A) data units, to execute now
  std::optional<Chunk> planned;  // the chunk planned at this step, when the queue was empty
  bool held = false;             // the observation was not finite: `action` is the last executed one, held
                                 // (RunnerOptions::hold_on_nonfinite); the monitor counts it as an alarm
};

class Agent {
 public:
  virtual ~Agent() = default;
  // Starts an episode: the actions that follow are a function of the seed and the observations only.
  virtual void reset(uint64_t seed) = 0;
  // One control step; throws nfp::Error on an observation the policy cannot act on.
  virtual ActStep act(const Observation& obs) = 0;
};

// The spec of a local policy run with `options` (nfp/agent_spec.hpp).
AgentSpec agent_spec(const PolicyImpl& policy, const RunnerOptions& options);

}  // namespace nfp
