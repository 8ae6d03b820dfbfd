// nina-mlp (NinA's MLP variant): affine couplings (tanh-bounded scale) whose scale and shift come from separate
// MLPs on cat(kept half, ctx), random permutations, optional PLU. The module is flow_head.cpp's.
#include "flow_head.hpp"

namespace nfp {

// Tri-stage schedule: 5% warm-up, 10% hold, cosine; lr 5e-4; AdamW beta2 0.95.
json nina_train_defaults() { return {{"schedule", "tri-stage"}, {"lr", 5e-4}, {"beta2", 0.95}}; }

HeadEntry nina_mlp_head_entry() {
  HeadEntry e;
  e.traits.name = "nina-mlp";
  e.traits.has_likelihood = true;
  e.traits.exportable = true;
  e.options = flow_head_options();
  e.set_defaults = [](HeadConfig& c) {
    c.layers = 6;  // NinA: 18 x 256 for a VLA; 6 x 128 fits a low-dim chunk and trains in minutes on 2 cores
    c.hidden = 128;
    set_flow_head_defaults(c);
  };
  e.check = check_flow_head;
  e.make = [](const HeadConfig& c) {
    FlowConfig f = base_flow_config(c);
    f.coupling = "affine";
    f.conditioner.type = "mlp";
    f.separate_nets = true;
    return make_flow_head(c, f);
  };
  e.train_defaults = nina_train_defaults();
  return e;
}

}  // namespace nfp
