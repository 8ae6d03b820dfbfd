// The layer kinds the runtime runs, one table entry each (private to src/runtime). A file's layers[] names
// its kinds; load_model looks each up here and refuses a kind that has no entry. Adding a flow transform to
// the runtime: one file with its build / apply / backward functions and one entry in layer_kinds.cpp.
#pragma once
#include <set>
#include <string>
#include <vector>

#include "runtime/json_lite.hpp"
#include "runtime/model_build.hpp"

namespace nfp::rt {

struct Workspace;

// What a kind's builder gets: the weights, the flow's sizes and the layer's JSON entry.
struct LayerInput {
  NetBuilder& nets;     // named weights and the conditioner builders (model_nets.cpp)
  int dim = 0;          // D
  int context_dim = 0;  // C
  const JsonValue& json;
  std::string where;    // "layer 3 (affine_coupling 'flow.affine2')", for error messages
};

struct LayerOps {
  const char* kind;  // as written in the file, e.g. "affine_coupling"
  // Appends the layer (or the layers it expands to) to `out`; throws LoadError on bad parameters.
  void (*build)(const LayerInput& in, std::vector<Layer>& out);
  // In place on x (R x D); logdet (R) += log|det| of the direction taken.
  void (*apply)(Workspace& ws, size_t layer, float* x, int R, double* logdet, bool inverse);
  // grad (R x D): d/d(output) -> d/d(input) plus the log-det's gradient; xin: the layer's input.
  void (*backward)(Workspace& ws, size_t layer, const float* xin, float* grad, int R);
};

// Every kind, in the order of the table (the tests iterate over it).
const std::vector<LayerOps>& layer_kinds();
// Null when the kind is unknown.
const LayerOps* find_layer_kind(const std::string& kind);
// "actnorm, affine_coupling, ...", for error messages.
std::string layer_kind_names();

}  // namespace nfp::rt
