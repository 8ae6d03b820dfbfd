// One exporter per flow transform kind (see layer_exporters.hpp). Each writes the layer entry the runtime's
// builder of that kind reads (src/runtime/layer_kinds.cpp); the module's parameters and buffers are written
// by export_layer for every kind, under the transform's own dotted names.
#include "export/layer_exporters.hpp"

#include <algorithm>

#include "nfp/actnorm.hpp"
#include "nfp/affine_coupling.hpp"
#include "nfp/error.hpp"
#include "nfp/permutation.hpp"
#include "nfp/plu_linear.hpp"
#include "nfp/spline_coupling.hpp"
#include "nfp/tensor_io.hpp"

namespace nfp {
namespace {

template <class T>
bool is(const TransformImpl& t) {
  return dynamic_cast<const T*>(&t) != nullptr;
}

// The coupling's split (first cond_dim features untouched, or a mask: true = transformed) and conditioner.
json coupling_entry(const CouplingOptions& o, const ConditionerConfig& c) {
  require(c.type == "mlp" || c.type == "transformer",
          "export: conditioner '" + c.type + "' has no runtime implementation (the runtime runs mlp, transformer)");
  json j;
  if (o.mask.empty()) {
    j["cond_dim"] = o.cond_dim;
  } else {
    std::vector<bool> mask(o.mask.begin(), o.mask.end());
    j["mask"] = mask;
  }
  j["conditioner"] = {{"type", c.type}, {"hidden", c.hidden}, {"depth", c.depth}};
  if (c.type == "transformer") {
    j["conditioner"]["heads"] = c.heads;
    j["conditioner"]["token_dim"] = o.token_dim;
    j["conditioner"]["positional"] = c.positional;
    j["conditioner"]["feedforward"] = c.feedforward;
  }
  return j;
}

json write_affine(TransformImpl& t, const std::string& name, SafeTensorsFile& file) {
  auto& a = dynamic_cast<AffineCouplingImpl&>(t);
  json j = coupling_entry(a.options(), a.conditioner());
  j["separate_nets"] = a.separate_nets();
  return j;
}

json write_spline(TransformImpl& t, const std::string& name, SafeTensorsFile& file) {
  auto& s = dynamic_cast<SplineCouplingImpl&>(t);
  json j = coupling_entry(s.options(), s.conditioner());
  const SplineOptions& o = s.spline();
  j["spline"] = {{"bins", o.bins},
                 {"bound", o.bound},
                 {"min_bin_width", o.min_bin_width},
                 {"min_bin_height", o.min_bin_height},
                 {"min_derivative", o.min_derivative}};
  return j;
}

// Nothing beyond the module's own tensors: the runtime reads bias / log_scale, perm / inverse_perm.
json write_plain(TransformImpl& t, const std::string& name, SafeTensorsFile& file) { return json::object(); }

// W = P L (U + diag(sign exp(log_s))) and W^-1 in double (D x D), so the runtime never factorizes anything.
json write_plu(TransformImpl& t, const std::string& name, SafeTensorsFile& file) {
  auto params = t.named_parameters(false);
  auto buffers = t.named_buffers(false);
  auto d = [](const torch::Tensor& x) { return x.detach().to(torch::kFloat64); };
  const int64_t D = params["log_s"].size(0);
  auto eye = torch::eye(D, torch::kFloat64);
  auto L = d(params["lower"]) * d(buffers["lower_mask"]) + eye;
  auto U = d(params["upper"]) * d(buffers["upper_mask"]) + torch::diag(d(buffers["sign"]) * torch::exp(d(params["log_s"])));
  auto W = torch::matmul(d(buffers["perm"]), torch::matmul(L, U));
  file.tensors[name + ".weight"] = to_safetensor(W.to(torch::kFloat32));
  file.tensors[name + ".inverse_weight"] = to_safetensor(torch::linalg_inv(W).to(torch::kFloat32));
  return json::object();
}

}  // namespace

const std::vector<LayerExporter>& layer_exporters() {
  static const std::vector<LayerExporter> table = {
      {"actnorm", is<ActNormImpl>, write_plain},
      {"permutation", is<PermutationImpl>, write_plain},
      {"plu_linear", is<PLULinearImpl>, write_plu},
      {"affine_coupling", is<AffineCouplingImpl>, write_affine},
      {"spline_coupling", is<SplineCouplingImpl>, write_spline},
  };
  return table;
}

const LayerExporter* find_layer_exporter(const TransformImpl& t) {
  for (const auto& e : layer_exporters())
    if (e.matches(t)) return &e;
  return nullptr;
}

json export_layer(TransformImpl& t, const std::string& name, SafeTensorsFile& file) {
  const LayerExporter* e = find_layer_exporter(t);
  if (!e) {
    std::string known;
    for (const auto& k : layer_exporters()) known += (known.empty() ? "" : ", ") + std::string(k.kind);
    throw Error("export: the flow's transform '" + name + "' (" + t.name() + ") has no runtime exporter (exportable: " +
                known + "); add its entry to src/export/layer_exporters.cpp and src/runtime/layer_kinds.cpp");
  }
  torch::NoGradGuard ng;
  const auto before = file.tensors.size();
  std::vector<std::string> tensors;
  auto put = [&](const std::string& n, const torch::Tensor& v) {
    file.tensors[n] = to_safetensor(v.is_floating_point() ? v.to(torch::kFloat32) : v.to(torch::kLong));
    tensors.push_back(n);
  };
  for (const auto& p : t.named_parameters(true)) put(name + "." + p.key(), p.value());
  for (const auto& b : t.named_buffers(true)) put(name + "." + b.key(), b.value());
  json entry = e->write(t, name, file);
  for (const auto& [n, v] : file.tensors)
    if (n.rfind(name + ".", 0) == 0 && std::find(tensors.begin(), tensors.end(), n) == tensors.end()) tensors.push_back(n);
  require(file.tensors.size() == before + tensors.size(), "export: layer '" + name + "' wrote a tensor twice");
  entry["kind"] = e->kind;
  entry["name"] = name;
  entry["tensors"] = tensors;
  return entry;
}

}  // namespace nfp
