// FlowConfig <-> JSON. Unknown keys are errors: a typo in a config must not silently fall back to a default.
#include "nfp/error.hpp"
#include "nfp/flow.hpp"
#include "nfp/json_io.hpp"

namespace nfp {

void to_json(json& j, const FlowConfig& c) {
  j = json{{"type", "flow"},
           {"dim", c.dim},
           {"context_dim", c.context_dim},
           {"tokens", c.tokens},
           {"coupling", c.coupling},
           {"layers", c.layers},
           {"conditioner", c.conditioner},
           {"separate_nets", c.separate_nets},
           {"plu", c.plu},
           {"actnorm", c.actnorm},
           {"permutation", c.permutation},
           {"spline",
            {{"bins", c.spline.bins},
             {"bound", c.spline.bound},
             {"min_bin_width", c.spline.min_bin_width},
             {"min_bin_height", c.spline.min_bin_height},
             {"min_derivative", c.spline.min_derivative}}},
           {"seed", c.seed}};
}

void from_json(const json& j, FlowConfig& c) {
  const std::string w = "flow config";
  require_known_keys(j,
                     {"type", "dim", "context_dim", "tokens", "coupling", "layers", "conditioner", "separate_nets",
                      "plu", "actnorm", "permutation", "spline", "seed"},
                     w);
  require(json_get<std::string>(j, "type", "flow", w) == "flow", w + ": type must be \"flow\"");
  const FlowConfig d;
  c.dim = json_get(j, "dim", d.dim, w);
  c.context_dim = json_get(j, "context_dim", d.context_dim, w);
  c.tokens = json_get(j, "tokens", d.tokens, w);
  c.coupling = json_get(j, "coupling", d.coupling, w);
  c.layers = json_get(j, "layers", d.layers, w);
  c.conditioner = d.conditioner;
  if (j.contains("conditioner")) {
    require_known_keys(j["conditioner"],
                       {"type", "hidden", "depth", "zero_init", "dropout", "heads", "positional", "feedforward"},
                       w + " conditioner");
    c.conditioner = j["conditioner"].get<ConditionerConfig>();
  }
  c.separate_nets = json_get(j, "separate_nets", d.separate_nets, w);
  c.plu = json_get(j, "plu", d.plu, w);
  c.actnorm = json_get(j, "actnorm", d.actnorm, w);
  c.permutation = json_get(j, "permutation", d.permutation, w);
  c.spline = d.spline;
  if (j.contains("spline")) {
    const auto& s = j["spline"];
    require_known_keys(s, {"bins", "bound", "min_bin_width", "min_bin_height", "min_derivative"}, w + " spline");
    c.spline.bins = json_get(s, "bins", d.spline.bins, w);
    c.spline.bound = json_get(s, "bound", d.spline.bound, w);
    c.spline.min_bin_width = json_get(s, "min_bin_width", d.spline.min_bin_width, w);
    c.spline.min_bin_height = json_get(s, "min_bin_height", d.spline.min_bin_height, w);
    c.spline.min_derivative = json_get(s, "min_derivative", d.spline.min_derivative, w);
  }
  c.seed = json_get(j, "seed", d.seed, w);
}

}  // namespace nfp
