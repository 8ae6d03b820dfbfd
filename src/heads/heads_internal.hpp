// Constructors of the concrete heads, used by the factory table in head_config.cpp.
#pragma once
#include "nfp/action_head.hpp"

namespace nfp {

ActionHead make_flow_head(const HeadConfig& config);           // nina-mlp, nina-transformer, nfp-spline
ActionHead make_diffusion_head(const HeadConfig& config);      // diffusion
ActionHead make_flow_matching_head(const HeadConfig& config);  // flow-matching
ActionHead make_regression_head(const HeadConfig& config);     // regression

// (B x H x A) checks shared by every head; throws nfp::Error naming the head.
void check_chunk(const HeadConfig& c, const torch::Tensor& actions, const char* what);
void check_context(const HeadConfig& c, const torch::Tensor& ctx);

}  // namespace nfp
