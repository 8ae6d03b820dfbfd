// The whole policy on both sides (bench/policy_speed.cpp), for `nfp bench runtime --checkpoint RUN`: one synthetic
// observation (state, camera frames, instruction) that libtorch's PolicyImpl and the runtime both take, and the
// batch-1 timings of everything between that observation and the chunk.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "nfp/observation.hpp"
#include "nfp/policy.hpp"
#include "nfp/runtime.hpp"

namespace nfp::bench {

struct PolicyObservation {
  ObservationBatch history;            // libtorch's input: normalized, B = 1, as a PolicyRunner builds it
  std::vector<Image> frames;           // the camera frames, camera-major (cameras x history), the cameras' size
  std::vector<const uint8_t*> images;  // the runtime's input: pointers into frames
  std::string instruction;             // the task's first instruction ("" without one)
};

// `count` successive observations of a control loop, all with the state `state` (the runtime's state vector in raw
// units: each key's history, then the previous action): each camera films a stream of distinct pseudo-random
// frames, one new frame a tick, and observation t holds frames t .. t + history - 1 of it, each in a buffer of its
// own, so consecutive observations share history - 1 frames by value (what the runtime's frame cache reuses; the
// cost does not depend on the pixels otherwise).
std::vector<PolicyObservation> policy_observations(PolicyImpl& policy, const torch::Tensor& state, int count);

// Interleaved rounds, one core: libtorch's PolicyImpl::predict (encoders + head + strategy + unnormalize) against
// the runtime's observe + sample, for one sample and for SBS-16, and the encoders alone (encode vs observe), each
// round on the next observation of `obs` (cyclically; both sides on the same one).
// {"torch_ms_sample", "runtime_ms_sample", "speedup_sample", "torch_ms_sbs16", "runtime_ms_sbs16", "speedup_sbs16",
//  "torch_ms_encode", "runtime_ms_observe", "speedup_encode", "rounds"}: medians.
nlohmann::json whole_policy_speed(PolicyImpl& policy, const runtime::Model& model, const std::vector<float>& state,
                                  const std::vector<PolicyObservation>& obs, int rounds);

}  // namespace nfp::bench
