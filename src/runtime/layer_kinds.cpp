// The table of layer kinds and their builders: one entry per flow transform of src/flow, keyed by the kind
// the exporter writes (src/export/layer_exporters.cpp is the other side). A layer entry's JSON is that
// kind's own; its tensors are read by name under the entry's "name".
#include "runtime/layer_kinds.hpp"

#include "runtime/exec.hpp"

namespace nfp::rt {
namespace {

// A key this runtime does not read would be a parameter it silently ignores (a newer exporter's): refuse it.
void check_layer_keys(const JsonValue& j, std::initializer_list<const char*> own, const std::string& where) {
  std::vector<const char*> known = {"kind", "name", "tensors"};
  known.insert(known.end(), own.begin(), own.end());
  for (const auto& [key, v] : j.obj) {
    bool ok = false;
    for (const char* k : known) ok = ok || key == k;
    if (!ok)
      throw LoadError(where + ": unknown key '" + clip_for_message(key) + "' (misspelled, or exported by a newer nfp? update the runtime)");
  }
}

// Sizes are bounded before use (the torch side's constraints; the upper bounds keep every product in int).
int required_int(const JsonValue& j, const std::string& key, long long lo, long long hi, const std::string& where) {
  return j.at(key, where).int_in(lo, hi, where + " " + key);
}

ConditionerSpec conditioner_spec(const LayerInput& in) {
  const std::string w = in.where + " conditioner";
  const JsonValue& c = in.json.at("conditioner", in.where);
  c.check_keys({"type", "hidden", "depth", "heads", "token_dim", "positional", "feedforward"}, w);
  ConditionerSpec s;
  s.type = c.at("type", w).string(w + " type");
  if (s.type != "mlp" && s.type != "transformer")
    throw LoadError(w + ": unknown type '" + clip_for_message(s.type) + "'; this runtime knows mlp, transformer");
  s.hidden = required_int(c, "hidden", 1, 65536, w);
  s.depth = required_int(c, "depth", 1, 64, w);
  if (s.type == "transformer") {
    s.heads = required_int(c, "heads", 1, s.hidden, w);
    s.token_dim = required_int(c, "token_dim", 1, in.dim, w);
    s.positional = c.get_bool("positional", false, w);
    s.feedforward = c.get_bool("feedforward", false, w);
    if (s.hidden % s.heads) throw LoadError(w + ": hidden must be a multiple of heads");
  } else {
    for (const char* k : {"heads", "token_dim", "positional", "feedforward"})
      if (c.has(k)) throw LoadError(w + ": key '" + k + "' belongs to a transformer conditioner, not an mlp");
  }
  return s;
}

// A coupling's split: the first cond_dim features pass through, or a mask (true = transformed) whose
// untouched features are gathered first (in order), which is the same coupling between two permutations.
struct Split {
  int cond_dim = 0;
  std::vector<int> gather;  // (D) or empty: x_perm[i] = x[gather[i]]
};

Split coupling_split(const LayerInput& in) {
  Split s;
  const int D = in.dim;
  if (in.json.has("mask")) {
    const JsonValue& m = in.json.at("mask", in.where);
    if (m.kind != JsonValue::Array || int(m.arr.size()) != D)
      throw LoadError(in.where + ": mask must list " + std::to_string(D) + " booleans");
    std::vector<int> trans;
    for (int i = 0; i < D; ++i) (m.arr[size_t(i)].boolean(in.where + " mask") ? trans : s.gather).push_back(i);
    s.cond_dim = int(s.gather.size());
    s.gather.insert(s.gather.end(), trans.begin(), trans.end());
    if (in.json.has("cond_dim")) throw LoadError(in.where + ": has both mask and cond_dim; a coupling has one split");
  } else {
    s.cond_dim = required_int(in.json, "cond_dim", 1, D - 1, in.where);
  }
  if (s.cond_dim < 1 || s.cond_dim >= D) throw LoadError(in.where + ": needs 0 < untouched features < dim");
  return s;
}

Layer gather_layer(const std::vector<int>& perm, const std::string& name) {
  Layer L;
  L.ops = find_layer_kind("permutation");
  L.kind = "permutation";
  L.name = name;
  L.perm = perm;
  L.inverse_perm.assign(perm.size(), 0);
  for (size_t i = 0; i < perm.size(); ++i) L.inverse_perm[size_t(perm[i])] = int(i);
  return L;
}

// Appends the coupling, between the mask's gather and scatter permutations when it has a mask.
void push_coupling(const Split& s, Layer L, std::vector<Layer>& out) {
  if (s.gather.empty()) {
    out.push_back(std::move(L));
    return;
  }
  Layer g = gather_layer(s.gather, L.name + " (mask gather)");
  Layer scatter = gather_layer(g.inverse_perm, L.name + " (mask scatter)");
  out.push_back(std::move(g));
  out.push_back(std::move(L));
  out.push_back(std::move(scatter));
}

// What every coupling entry starts with: its keys checked, the split, the conditioner, and the layer named and
// sized (Dc conditioning features, Dt transformed).
struct Coupling {
  Split split;
  ConditionerSpec conditioner;
  int Dc = 0, Dt = 0;
  Layer layer;
};

Coupling coupling_entry(const LayerInput& in, std::initializer_list<const char*> keys) {
  check_layer_keys(in.json, keys, in.where);
  Coupling c;
  c.split = coupling_split(in);
  c.conditioner = conditioner_spec(in);
  c.Dc = c.split.cond_dim;
  c.Dt = in.dim - c.Dc;
  if (c.conditioner.type == "transformer" && (c.Dc % c.conditioner.token_dim || c.Dt % c.conditioner.token_dim))
    throw LoadError(in.where + ": the transformer conditioner needs both halves to be whole tokens of token_dim features");
  c.layer.cond_dim = c.Dc;
  c.layer.name = in.json.at("name", in.where).string(in.where + " name");
  return c;
}

void build_affine(const LayerInput& in, std::vector<Layer>& out) {
  Coupling cp = coupling_entry(in, {"cond_dim", "mask", "separate_nets", "conditioner"});
  const ConditionerSpec& c = cp.conditioner;
  const int Dc = cp.Dc, Dt = cp.Dt;
  Layer& L = cp.layer;
  if (in.json.at("separate_nets", in.where).boolean(in.where + " separate_nets")) {
    L.nets.push_back(in.nets.net(L.name + ".scale_net", c, Dc, Dt, 1, in.context_dim, 1));
    L.nets.push_back(in.nets.net(L.name + ".shift_net", c, Dc, Dt, 1, in.context_dim, 1));
  } else {  // one net, scale and shift interleaved (P = 2), a head each for the transformer
    L.nets.push_back(in.nets.net(L.name + ".net", c, Dc, Dt, 2, in.context_dim, 2));
  }
  push_coupling(cp.split, std::move(L), out);
}

void build_spline(const LayerInput& in, std::vector<Layer>& out) {
  Coupling cp = coupling_entry(in, {"cond_dim", "mask", "conditioner", "spline"});
  const ConditionerSpec& c = cp.conditioner;
  const int Dc = cp.Dc, Dt = cp.Dt;
  Layer& L = cp.layer;
  const std::string w = in.where + " spline";
  const JsonValue& j = in.json.at("spline", in.where);
  j.check_keys({"bins", "bound", "min_bin_width", "min_bin_height", "min_derivative"}, w);
  SplineParams& p = L.spline;
  p.bins = required_int(j, "bins", 2, 64, w);
  p.bound = j.at("bound", w).number(w + " bound");
  p.min_bin_width = j.at("min_bin_width", w).number(w + " min_bin_width");
  p.min_bin_height = j.at("min_bin_height", w).number(w + " min_bin_height");
  p.min_derivative = j.at("min_derivative", w).number(w + " min_derivative");
  // The torch side needs bound > 0; the upper limits keep the float32 spline math finite (knots at +-bound).
  if (!(p.bound > 0 && p.bound <= 1e6) || !(p.min_bin_width >= 0 && p.min_bin_width * p.bins < 1) ||
      !(p.min_bin_height >= 0 && p.min_bin_height * p.bins < 1) || !(p.min_derivative >= 0 && p.min_derivative <= 1e3))
    throw LoadError(w + ": needs 0 < bound <= 1e6, 0 <= min_bin_width, min_bin_height < 1 / bins and 0 <= min_derivative <= 1e3");
  L.nets.push_back(in.nets.net(L.name + ".net", c, Dc, Dt, 3 * p.bins - 1, in.context_dim, 1));
  push_coupling(cp.split, std::move(L), out);
}

void build_actnorm(const LayerInput& in, std::vector<Layer>& out) {
  check_layer_keys(in.json, {}, in.where);
  Layer L;
  L.name = in.json.at("name", in.where).string(in.where + " name");
  L.bias = in.nets.w.floats(L.name + ".bias", {in.dim});
  L.log_scale = in.nets.w.floats(L.name + ".log_scale", {in.dim});
  in.nets.w.touch(L.name + ".initialized");
  for (float v : L.log_scale) L.logdet += v;
  out.push_back(std::move(L));
}

void build_permutation(const LayerInput& in, std::vector<Layer>& out) {
  check_layer_keys(in.json, {}, in.where);
  Layer L;
  L.name = in.json.at("name", in.where).string(in.where + " name");
  L.perm = in.nets.w.indices(L.name + ".perm", in.dim);
  L.inverse_perm = in.nets.w.indices(L.name + ".inverse_perm", in.dim);
  for (int i = 0; i < in.dim; ++i)
    if (L.inverse_perm[size_t(L.perm[size_t(i)])] != i) throw LoadError(in.where + ": inverse_perm is not the inverse of perm");
  out.push_back(std::move(L));
}

// W and W^-1 were computed in double by the exporter; the PLU factors are kept in the file for provenance.
void build_plu(const LayerInput& in, std::vector<Layer>& out) {
  check_layer_keys(in.json, {}, in.where);
  Layer L;
  L.name = in.json.at("name", in.where).string(in.where + " name");
  const int D = in.dim;
  auto wt = in.nets.w.floats(L.name + ".weight", {D, D});
  auto wi = in.nets.w.floats(L.name + ".inverse_weight", {D, D});
  auto log_s = in.nets.w.floats(L.name + ".log_s", {D});
  for (float v : log_s) L.logdet += v;
  for (const char* n : {".perm", ".sign", ".lower_mask", ".upper_mask", ".lower", ".upper"}) in.nets.w.touch(L.name + n);
  L.w_fwd = pack_transposed(wt.data(), D, D);
  L.w_inv = pack_transposed(wi.data(), D, D);
  L.w_back = pack_matrix(wt.data(), D, D, D);
  out.push_back(std::move(L));
}

}  // namespace

const std::vector<LayerOps>& layer_kinds() {
  static const std::vector<LayerOps> kinds = {
      {"actnorm", build_actnorm, actnorm_apply, actnorm_backward},
      {"permutation", build_permutation, permutation_apply, permutation_backward},
      {"plu_linear", build_plu, plu_apply, plu_backward},
      {"affine_coupling", build_affine, affine_apply, affine_backward},
      {"spline_coupling", build_spline, spline_apply, spline_backward},
  };
  return kinds;
}

const LayerOps* find_layer_kind(const std::string& kind) {
  for (const auto& k : layer_kinds())
    if (kind == k.kind) return &k;
  return nullptr;
}

std::string layer_kind_names() {
  std::string s;
  for (const auto& k : layer_kinds()) s += (s.empty() ? "" : ", ") + std::string(k.kind);
  return s;
}

}  // namespace nfp::rt
