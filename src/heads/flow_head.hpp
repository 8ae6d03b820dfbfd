// What the three flow heads (nina_mlp_head.cpp, nina_transformer_head.cpp, nfp_spline_head.cpp) share: the head
// module around a Flow, the flow settings they have in common, and their common options.
#pragma once
#include "heads_internal.hpp"
#include "nfp/flow.hpp"

namespace nfp {

// The options every flow head reads: plu, action_noise, sigma.
std::vector<std::string> flow_head_options();
// Their defaults (NinA): PLU on, action noise 0.05, sampling std 1.
void set_flow_head_defaults(HeadConfig& c);
void check_flow_head(const HeadConfig& c);
// The flow over the flattened chunk (D = H x A) with the settings every flow head shares; the head's file sets
// the coupling and the conditioner.
FlowConfig base_flow_config(const HeadConfig& c);
// NinA's optimiser recipe as TrainConfig JSON keys, shared by nina-mlp and nina-transformer (nina_mlp_head.cpp).
json nina_train_defaults();
// The head: loss = -mean log p(noisy chunk | ctx), one-shot sampling, exact log_prob. Checks D >= 2.
ActionHead make_flow_head(const HeadConfig& c, const FlowConfig& flow);

}  // namespace nfp
