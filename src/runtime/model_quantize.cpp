// Reduced-precision weights (docs/RUNTIME.md "Weight precision"): after loading, the conditioners' Linear
// weights are re-stored as bf16 or int8. Only the coupling conditioners (MLP and transformer linears) carry
// enough bytes to matter: biases, LayerNorms, PLU / ActNorm, pad tokens and a policy's encoder stay f32.
#include "runtime/json_lite.hpp"
#include "runtime/model.hpp"

namespace nfp::rt {
namespace {

void narrow(Linear& l, WeightType t) {
  if (l.in == 0 || l.out == 0) return;  // an unconditional net's absent context columns
  l.fwd = narrow_matrix(l.fwd, t);
  // The backward pass (GR, log-prob gradients) multiplies by W itself: the same rounded values, kept in f32,
  // so the gradient is the exact gradient of the function the forward pass computes.
  const std::vector<float> wt = unpack_matrix(l.fwd);  // W^T (in x out)
  l.back = pack_transposed(wt.data(), l.in, l.out);     // W (out x in)
}

void narrow(MlpNet& n, WeightType t) {
  for (auto& l : n.hidden_x) narrow(l, t);
  narrow(n.first_ctx, t);
  narrow(n.out, t);
}

void narrow(TransformerNet& tf, WeightType t) {
  narrow(tf.input_proj, t);
  narrow(tf.context_proj, t);
  for (auto& b : tf.blocks) {
    for (Attention* a : {&b.self_attn, &b.cross_attn}) {
      narrow(a->q, t);
      narrow(a->kv, t);
      narrow(a->out, t);
    }
    narrow(b.ff1, t);
    narrow(b.ff2, t);
  }
  for (auto& l : tf.head1) narrow(l, t);
  for (auto& l : tf.head2) narrow(l, t);
}

}  // namespace

WeightType parse_weight_type(const std::string& name) {
  if (name.empty() || name == "f32") return WeightType::F32;
  if (name == "bf16") return WeightType::BF16;
  if (name == "int8") return WeightType::I8;
  if (name == "w8a8") return WeightType::W8A8;
  throw LoadError("unknown weight precision '" + name + "': expected f32, bf16, int8 or w8a8");
}

void quantize_conditioners(Model& m, WeightType t) {
  m.weights = t;
  if (t == WeightType::F32) return;
  for (auto& layer : m.layers)
    for (auto& net : layer.nets) {
      if (net.transformer) narrow(net.tf, t);
      else narrow(net.mlp, t);
    }
}

}  // namespace nfp::rt
