// The table of layer kinds and their builders: one entry per flow transform of src/flow, keyed by the kind
// the exporter writes (src/export/layer_exporters.cpp is the other side). A layer entry's JSON is that
// kind's own; its tensors are read by name under the entry's "name".
#include "runtime/layer_kinds.hpp"

#include "runtime/exec.hpp"

namespace nfp::rt {
namespace {

// A key this runtime does not read would be a parameter it silently ignores (a newer exporter's): refuse it.
void check_keys(const JsonValue& j, std::initializer_list<const char*> known, const std::string& where) {
  for (const auto& [key, v] : j.obj) {
    bool ok = key == "kind" || key == "name" || key == "tensors";
    for (const char* k : known) ok = ok || key == k;
    if (!ok) throw LoadError(where + ": unknown key '" + key + "' (exported by a newer nfp? update the runtime)");
  }
}

int get_required_int(const JsonValue& j, const std::string& key, const std::string& where) {
  return int(j.at(key, where).integer(where + " " + key));
}

ConditionerSpec conditioner_spec(const LayerInput& in) {
  const std::string w = in.where + " conditioner";
  const JsonValue& c = in.json.at("conditioner", in.where);
  check_keys(c, {"type", "hidden", "depth", "heads", "token_dim", "positional", "feedforward"}, w);
  ConditionerSpec s;
  s.type = c.at("type", w).string(w + " type");
  s.hidden = get_required_int(c, "hidden", w);
  s.depth = get_required_int(c, "depth", w);
  if (s.type != "mlp" && s.type != "transformer")
    throw LoadError(w + ": unknown type '" + s.type + "'; this runtime knows mlp, transformer");
  if (s.hidden < 1 || s.hidden > 65536 || s.depth < 1 || s.depth > 64) throw LoadError(w + ": sizes out of range");
  if (s.type == "transformer") {
    s.heads = get_required_int(c, "heads", w);
    s.token_dim = get_required_int(c, "token_dim", w);
    s.positional = c.get_bool("positional", false, w);
    s.feedforward = c.get_bool("feedforward", false, w);
    if (s.heads < 1 || s.hidden % s.heads) throw LoadError(w + ": hidden must be a multiple of heads");
    if (s.token_dim < 1) throw LoadError(w + ": token_dim must be >= 1");
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
  } else {
    s.cond_dim = get_required_int(in.json, "cond_dim", in.where);
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
  check_keys(in.json, keys, in.where);
  Coupling c;
  c.split = coupling_split(in);
  c.conditioner = conditioner_spec(in);
  c.Dc = c.split.cond_dim;
  c.Dt = in.dim - c.Dc;
  if (c.conditioner.type == "transformer" && (c.Dc % c.conditioner.token_dim || c.Dt % c.conditioner.token_dim))
    throw LoadError(in.where + ": the transformer conditioner needs both halves to be whole tokens of token_dim features");
  c.layer.cond_dim = c.Dc;
  c.layer.name = in.json.at("name", in.where).string(in.where);
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
  check_keys(j, {"bins", "bound", "min_bin_width", "min_bin_height", "min_derivative"}, w);
  SplineParams& p = L.spline;
  p.bins = get_required_int(j, "bins", w);
  p.bound = j.at("bound", w).number(w + " bound");
  p.min_bin_width = j.at("min_bin_width", w).number(w + " min_bin_width");
  p.min_bin_height = j.at("min_bin_height", w).number(w + " min_bin_height");
  p.min_derivative = j.at("min_derivative", w).number(w + " min_derivative");
  if (p.bins < 2 || p.bins > 64) throw LoadError(w + ": bins must be in 2..64");
  if (!(p.bound > 0) || !(p.min_bin_width * p.bins < 1) || !(p.min_bin_height * p.bins < 1) || !(p.min_derivative >= 0))
    throw LoadError(w + ": bound must be > 0 and min_bin_width / min_bin_height x bins < 1");
  L.nets.push_back(in.nets.net(L.name + ".net", c, Dc, Dt, 3 * p.bins - 1, in.context_dim, 1));
  push_coupling(cp.split, std::move(L), out);
}

void build_actnorm(const LayerInput& in, std::vector<Layer>& out) {
  check_keys(in.json, {}, in.where);
  Layer L;
  L.name = in.json.at("name", in.where).string(in.where);
  L.bias = in.nets.w.floats(L.name + ".bias", {in.dim});
  L.log_scale = in.nets.w.floats(L.name + ".log_scale", {in.dim});
  in.nets.w.touch(L.name + ".initialized");
  for (float v : L.log_scale) L.logdet += v;
  out.push_back(std::move(L));
}

void build_permutation(const LayerInput& in, std::vector<Layer>& out) {
  check_keys(in.json, {}, in.where);
  Layer L;
  L.name = in.json.at("name", in.where).string(in.where);
  L.perm = in.nets.w.indices(L.name + ".perm", in.dim);
  L.inverse_perm = in.nets.w.indices(L.name + ".inverse_perm", in.dim);
  for (int i = 0; i < in.dim; ++i)
    if (L.inverse_perm[size_t(L.perm[size_t(i)])] != i) throw LoadError(in.where + ": inverse_perm is not the inverse of perm");
  out.push_back(std::move(L));
}

// W and W^-1 were computed in double by the exporter; the PLU factors are kept in the file for provenance.
void build_plu(const LayerInput& in, std::vector<Layer>& out) {
  check_keys(in.json, {}, in.where);
  Layer L;
  L.name = in.json.at("name", in.where).string(in.where);
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
