// The action-head registry: one table (src/heads/head_registry.cpp) whose entries carry each head's name,
// constructor, defaults, train defaults, option keys and traits. Code outside src/heads asks for a head's
// traits instead of comparing its name:
//   if (nfp::head_traits(type).has_likelihood) strategy = "sbs";
#pragma once
#include <string>
#include <vector>

#include "nfp/json_io.hpp"

namespace nfp {

struct HeadTraits {
  std::string name;
  bool has_likelihood = false;        // exact log p: log_prob, and the sbs / gr / denoise strategies
  bool reads_context_tokens = false;  // accepts a context of tokens (B x N x C) (nina-transformer)
  bool exportable = false;            // `nfp export` writes it for the libtorch-free runtime (the flow heads today)
  bool has_sampling_steps = false;    // iterative sampler with a steps knob (infer_steps / --steps): diffusion, flow-matching
};

// The registered head names, in a fixed order.
std::vector<std::string> head_names();
// Whether `type` is a registered head (no error; for callers that also accept other model types).
bool is_head_name(const std::string& type);
// The traits of head `type`; nfp::Error listing head_names() if unknown.
const HeadTraits& head_traits(const std::string& type);
// The HeadConfig JSON keys head `type` reads beyond the common ones (type, horizon, action_dim, context_dim,
// seed, layers, hidden), e.g. {"plu", "action_noise", "sigma", "bins", "bound"} for nfp-spline.
const std::vector<std::string>& head_options(const std::string& type);
// The keys every head reads.
const std::vector<std::string>& common_head_options();
// TrainConfig JSON keys whose defaults head `type` changes (e.g. {"lr": 5e-4} for nfp-spline); plain data, so
// that the heads layer does not depend on the train layer (default_train_config applies them).
const json& head_train_defaults(const std::string& type);

}  // namespace nfp
