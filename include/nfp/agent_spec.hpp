// What an evaluation or a policy server's client needs to know of the policy behind an agent: what it observes
// and how it samples. Torch-free: the server's protocol (nfp/serve_protocol.hpp) and a robot-side client use it
// without libtorch. A local policy's is nfp::agent_spec(policy, options) (nfp/agent.hpp); a server sends its
// own in the metadata.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "nfp/json_io.hpp"

namespace nfp {

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

}  // namespace nfp
