// nina-transformer (NinA's Transformer variant): affine couplings whose conditioner is a Transformer over the
// chunk's H time steps (tokens of A features); the context may itself be tokens (B x N x C), attended to.
#include "flow_head.hpp"
#include "nfp/error.hpp"

namespace nfp {

HeadEntry nina_transformer_head_entry() {
  HeadEntry e;
  e.traits.name = "nina-transformer";
  e.traits.has_likelihood = true;
  e.traits.reads_context_tokens = true;
  e.traits.exportable = true;
  e.options = flow_head_options();
  for (const char* k : {"depth", "heads", "dropout"}) e.options.push_back(k);
  e.set_defaults = [](HeadConfig& c) {
    c.layers = 6;
    c.hidden = 128;
    set_flow_head_defaults(c);
    c.depth = 2;      // transformer blocks per conditioner
    c.heads = 4;      // attention heads
    c.dropout = 0.0;  // output-head dropout (NinA: 0.1)
  };
  e.check = [](const HeadConfig& c) {
    check_flow_head(c);
    require(c.depth >= 1 && c.heads >= 1, "nina-transformer head: depth and heads must be >= 1");
    require(c.dropout >= 0 && c.dropout < 1, "nina-transformer head: dropout must be in [0, 1)");
  };
  e.make = [](const HeadConfig& c) {
    require(c.horizon >= 2, "nina-transformer needs a horizon >= 2 (it splits the chunk over time)");
    FlowConfig f = base_flow_config(c);
    f.coupling = "affine";
    f.conditioner.type = "transformer";
    f.conditioner.depth = c.depth;
    f.conditioner.heads = c.heads;
    f.conditioner.dropout = c.dropout;
    f.tokens = c.horizon;
    return make_flow_head(c, f);
  };
  e.train_defaults = nina_train_defaults();
  return e;
}

}  // namespace nfp
