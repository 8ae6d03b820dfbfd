// The registry's entry type and one entry per head, each defined in that head's own file and listed once in
// the table in head_registry.cpp. Adding a head: its file (entry + module) and one line in that table.
#pragma once
#include <vector>

#include "nfp/action_head.hpp"

namespace nfp {

struct HeadEntry {
  HeadTraits traits;                          // traits.name is the registered name
  std::vector<std::string> options;           // HeadConfig keys read beyond common_head_options()
  void (*set_defaults)(HeadConfig& c);        // sets layers, hidden and every key in `options`
  void (*check)(const HeadConfig& c);         // value checks of `options` (shape-free); throws nfp::Error
  ActionHead (*make)(const HeadConfig& c);    // called after check(); may check shapes
  json train_defaults = json::object();       // TrainConfig JSON keys this head changes
};

HeadEntry nina_mlp_head_entry();          // nina_mlp_head.cpp
HeadEntry nina_transformer_head_entry();  // nina_transformer_head.cpp
HeadEntry nfp_spline_head_entry();        // nfp_spline_head.cpp
HeadEntry diffusion_head_entry();         // diffusion_head.cpp
HeadEntry flow_matching_head_entry();     // flow_matching_head.cpp
HeadEntry regression_head_entry();        // regression_head.cpp

// The registry's entry for `type`; nfp::Error listing the names if unknown.
const HeadEntry& head_entry(const std::string& type);

// (B x H x A) checks shared by every head; throws nfp::Error naming the head.
void check_chunk(const HeadConfig& c, const torch::Tensor& actions, const char* what);
void check_context(const HeadConfig& c, const torch::Tensor& ctx);

}  // namespace nfp
