// End-to-end policies for `nfp bench latency`: an image policy as `nfp train --obs images,state` builds it
// (default_policy_config(head) + one camera + the task's "state" key, history 2), with random weights, and one
// observation for it (a random RGB frame + state), so that a row times what `nfp eval` runs per chunk:
// observation push (uint8 -> float), image encoder over every history frame, state MLP, head, strategy,
// unnormalisation.
//   auto p = nfp::bench::make_e2e_policy("push-two-goals", {"conv"}, 84, head_cfg, 16, 256);
//   nfp::Observation obs = nfp::bench::e2e_observation(*p, 0);   nfp::PolicyRunner(p).plan(obs);
#pragma once
#include <cstdint>
#include <string>

#include "nfp/action_head.hpp"
#include "nfp/image_encoder.hpp"
#include "nfp/observation.hpp"
#include "nfp/policy.hpp"

namespace nfp::bench {

// The task's first camera at image_size x image_size plus its "state" key (every low-dim key if it has none),
// `head` as the action head (its shapes are overwritten from the policy's). Normalizer: actions min-max over
// the task's bounds, state identity-scaled (normalisation costs the same whatever its statistics). eval mode.
Policy make_e2e_policy(const std::string& task, const ImageEncoderConfig& encoder, int64_t image_size,
                       const HeadConfig& head, int64_t horizon, int64_t context_dim);

// One observation the policy accepts: uniform random uint8 images and N(0, 1) low-dim values, drawn from `seed`.
Observation e2e_observation(const PolicyImpl& policy, uint64_t seed);

}  // namespace nfp::bench
