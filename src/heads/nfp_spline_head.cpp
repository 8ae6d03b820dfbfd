// nfp-spline (NF-P): rational-quadratic spline couplings on an MLP conditioner, each coupling initialised to
// the identity; no PLU, sampling std 0.5.
#include "flow_head.hpp"
#include "nfp/error.hpp"

namespace nfp {

HeadEntry nfp_spline_head_entry() {
  HeadEntry e;
  e.traits.name = "nfp-spline";
  e.traits.has_likelihood = true;
  e.traits.exportable = true;
  e.options = flow_head_options();
  for (const char* k : {"bins", "bound"}) e.options.push_back(k);
  e.set_defaults = [](HeadConfig& c) {
    c.layers = 10;  // NF-P: 10 rational-quadratic spline couplings
    c.hidden = 256;
    set_flow_head_defaults(c);
    c.plu = false;
    c.sigma = 0.5;  // NF-P's best sampling std
    c.bins = 10;
    c.bound = 3.0;  // normalized units
  };
  e.check = [](const HeadConfig& c) {
    check_flow_head(c);
    require(c.bins >= 1 && c.bound > 0, "nfp-spline head: bins must be >= 1 and bound > 0");
  };
  e.make = [](const HeadConfig& c) {
    FlowConfig f = base_flow_config(c);
    f.coupling = "spline";
    f.conditioner.type = "mlp";
    f.conditioner.zero_init = true;  // each coupling starts as the identity: stable spline training
    f.spline.bins = c.bins;
    f.spline.bound = c.bound;
    return make_flow_head(c, f);
  };
  e.train_defaults = {{"lr", 5e-4}};
  return e;
}

}  // namespace nfp
