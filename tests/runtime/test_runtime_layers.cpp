// The file's layers[] and the two tables keyed by layer kind (src/export/layer_exporters.cpp,
// src/runtime/layer_kinds.cpp). Generic: for every kind in the exporter table, every transform case of
// tests/flow/transform_cases.cpp of that kind is exported alone, loaded by the runtime and checked against
// libtorch; a new kind is picked up from the table and fails until a transform case builds it.
#include <gtest/gtest.h>

#include <set>

#include "export/layer_exporters.hpp"
#include "flow/transform_cases.hpp"
#include "nfp/runtime.h"
#include "runtime/layer_kinds.hpp"
#include "runtime_fixtures.hpp"

namespace nfp {
namespace {

// The transforms are float64 in libtorch and float32 in the file and the runtime. Actions and log p (relative
// to max(1, |log p|)): 1e-4, the runtime's bound; observed up to 1.4e-5. Gradients, relative to max(1, max|∇|):
// the cases' weights are perturbed by 0.3 (steep splines), and f32 differentiation through a spline's bin
// softmax reaches 5e-5 of max|∇| (spline_transformer_pos_ff); 1e-3 keeps a margin across kernel variants.
constexpr double kTol = 1e-4, kGradTol = 1e-3;

std::vector<std::string> exporter_kinds() {
  std::vector<std::string> out;
  for (const auto& e : layer_exporters()) out.push_back(e.kind);
  return out;
}

torch::Tensor from(const std::vector<float>& v, int64_t rows, int64_t cols) {
  return torch::from_blob(const_cast<float*>(v.data()), {rows, cols}, torch::kFloat32).clone();
}

std::vector<float> to_vec(const torch::Tensor& t) {
  auto c = t.to(torch::kFloat32).contiguous();
  return {c.data_ptr<float>(), c.data_ptr<float>() + c.numel()};
}

// `t` alone as a flow: exported, loaded, and compared with libtorch on samples, log p and d log p / da.
void expect_runtime_matches(const testing::TransformCase& tc, const Transform& t) {
  using namespace testing;
  const int64_t D = kDim, C = tc.conditional ? kContext : 0, N = std::max<int64_t>(tc.context_tokens, 1);
  SafeTensorsFile file;
  json cfg;
  RuntimeExportOptions o;
  o.context_tokens = C > 0 ? N : 1;
  add_transforms({{"flow." + tc.name, t}}, D, C, o, file, cfg);
  const auto path = test::temp_path(tc.name + "_layer.nfpr");
  write_nfpr(file, cfg, path);
  runtime::Model model(path.string());
  std::filesystem::remove(path);
  const int n = 5;
  runtime::Workspace ws(model, n);

  torch::manual_seed(3);
  const auto obs = torch::randn({N * C});
  torch::Tensor ctx;  // (n x C) or (n x N x C), float64 like the transform
  if (C > 0) ctx = (tc.context_tokens == 0 ? obs.view({1, C}).expand({n, C}) : obs.view({1, N, C}).expand({n, N, C}))
                       .to(torch::kFloat64)
                       .contiguous();
  const auto obs_v = to_vec(obs);
  auto log_normal = [&](const torch::Tensor& z) { return -0.5 * z.square().sum(1) - 0.5 * D * std::log(2 * M_PI); };

  // Sampling direction: x = inverse(z), log p = log N(z) - log|dx/dz|.
  const auto z = (torch::randn({n, D}) * 1.5).to(torch::kFloat64);
  torch::NoGradGuard ng;
  const auto inv = t->inverse(z, ctx);
  std::vector<float> x(size_t(n) * D);
  std::vector<double> lp(static_cast<size_t>(n));
  ASSERT_EQ(ws.sample_latent(obs_v, to_vec(z), n, x, lp.data()), NFP_RT_OK) << tc.name;
  EXPECT_LE((from(x, n, D).to(torch::kFloat64) - inv.y).abs().max().item<double>(), kTol) << tc.name;
  const auto ref_lp = log_normal(z) - inv.logdet;
  const double scale = std::max(1.0, ref_lp.abs().max().item<double>());
  EXPECT_LE((torch::tensor(lp, torch::kFloat64) - ref_lp).abs().max().item<double>(), kTol * scale) << tc.name;

  // Density direction with its gradient against autograd.
  const auto a = torch::randn({n, D}).to(torch::kFloat64);
  torch::Tensor lp_ref, grad_ref;
  {
    torch::AutoGradMode on(true);
    auto av = a.clone().requires_grad_(true);
    const auto fwd = t->forward(av, ctx);
    lp_ref = log_normal(fwd.y) + fwd.logdet;
    grad_ref = torch::autograd::grad({lp_ref.sum()}, {av})[0];
  }
  std::vector<float> g(size_t(n) * D);
  ASSERT_EQ(ws.log_prob_grad(obs_v, to_vec(a), n, lp.data(), g), NFP_RT_OK) << tc.name;
  EXPECT_LE((torch::tensor(lp, torch::kFloat64) - lp_ref.detach()).abs().max().item<double>(), kTol * scale) << tc.name;
  const double gscale = std::max(1.0, grad_ref.abs().max().item<double>());
  EXPECT_LE((from(g, n, D).to(torch::kFloat64) - grad_ref).abs().max().item<double>(), kGradTol * gscale) << tc.name;
}

class LayerKind : public ::testing::TestWithParam<std::string> {};

TEST_P(LayerKind, RuntimeMatchesLibtorchForEveryCaseOfTheKind) {
  int found = 0;
  for (const auto& tc : testing::all_transform_cases()) {
    Transform t = tc.make(7);
    const LayerExporter* e = find_layer_exporter(*t);
    if (!e || GetParam() != e->kind) continue;
    ++found;
    expect_runtime_matches(tc, t);
  }
  EXPECT_GT(found, 0) << "no case in tests/flow/transform_cases.cpp builds a '" << GetParam() << "'; add one";
}

INSTANTIATE_TEST_SUITE_P(ExporterTable, LayerKind, ::testing::ValuesIn(exporter_kinds()),
                         [](const auto& info) { return info.param; });

TEST(LayerKinds, ExporterAndRuntimeTablesHoldTheSameKinds) {
  std::set<std::string> exported, built;
  for (const auto& e : layer_exporters()) exported.insert(e.kind);
  for (const auto& k : rt::layer_kinds()) built.insert(k.kind);
  EXPECT_EQ(exported, built);
}

// An identity transform with no exporter entry: the export fails naming it, nothing is skipped.
class Unexportable : public TransformImpl {
 public:
  TransformResult forward(const torch::Tensor& x, const torch::Tensor&) override { return {x, torch::zeros({x.size(0)})}; }
  TransformResult inverse(const torch::Tensor& y, const torch::Tensor&) override { return {y, torch::zeros({y.size(0)})}; }
};

TEST(LayerKinds, TransformWithoutExporterFailsTheExportNamingIt) {
  SafeTensorsFile file;
  json cfg;
  try {
    add_transforms({{"flow.squeeze0", std::make_shared<Unexportable>()}}, 4, 0, {}, file, cfg);
    ADD_FAILURE() << "exporting a transform without an exporter should fail";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'flow.squeeze0'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("has no runtime exporter"), std::string::npos) << e.what();
  }
}

// A fresh export whose runtime config is edited by `edit`, written to a temporary file (through write_nfpr, so
// its checksum matches: the loader then reaches the edited config).
std::filesystem::path edited_export(const std::string& name, const std::function<void(json&)>& edit) {
  const auto tc = test::runtime_cases()[0];  // ActNorm, permutation, affine, PLU
  const auto path = test::temp_path(name);
  RuntimeExportOptions o;
  export_flow(*test::random_flow(tc.config, 1), o, path);
  SafeTensorsFile f = read_safetensors(path);
  json cfg = json::parse(f.metadata.at("nfp_runtime"));
  edit(cfg);
  write_nfpr(f, cfg, path);
  return path;
}

// Through the C API's error path: null model, one line in the caller's buffer.
std::string c_api_error(const std::filesystem::path& path) {
  char err[512] = "";
  nfp_rt_model* m = nfp_rt_model_load(path.string().c_str(), err, sizeof err);
  EXPECT_EQ(m, nullptr);
  if (m) nfp_rt_model_free(m);
  EXPECT_EQ(std::string(err).find('\n'), std::string::npos) << err;
  return err;
}

TEST(LayerKinds, UnknownKindIsRefusedWithOneLine) {
  const auto path = edited_export("unknown_kind.nfpr", [](json& c) { c["layers"][2]["kind"] = "glow_squeeze"; });
  const std::string err = c_api_error(path);
  EXPECT_NE(err.find("layer 2 has kind 'glow_squeeze', which this runtime does not know"), std::string::npos) << err;
  EXPECT_NE(err.find("affine_coupling"), std::string::npos) << "the message lists the known kinds: " << err;
  EXPECT_THROW(runtime::Model(path.string()), std::runtime_error);
  std::filesystem::remove(path);
}

TEST(LayerKinds, UnknownLayerKeyIsRefused) {  // a parameter the runtime would ignore
  const auto path = edited_export("unknown_key.nfpr", [](json& c) { c["layers"][2]["scale_bound"] = 2.0; });
  EXPECT_NE(c_api_error(path).find("unknown key 'scale_bound'"), std::string::npos);
  std::filesystem::remove(path);
}

TEST(LayerKinds, LayerEntryAndWeightsMustAgree) {
  const auto path = edited_export("tensor_list.nfpr", [](json& c) { c["layers"][0]["tensors"].erase(0); });
  EXPECT_NE(c_api_error(path).find("that its tensors[] does not list"), std::string::npos);
  std::filesystem::remove(path);
}

// Format 1 files (no layers[]) are refused, not translated: translating would keep a second copy of
// FlowImpl's layer order in the runtime, the duplication layers[] removes. Format 2 (layers[], no checksum) is
// refused too: its integrity cannot be verified. The checkpoint re-exports.
TEST(LayerKinds, OldFileWithoutLayersIsRefusedWithReexportHint) {
  for (int version : {1, 2, 3}) {
    const auto path = edited_export("old_format.nfpr", [&](json& c) {
      c.erase("layers");
      c["version"] = version;
    });
    const std::string err = c_api_error(path);
    if (version == 3) {  // the current format without layers[] is just a bad file
      EXPECT_NE(err.find("lacks the key 'layers'"), std::string::npos) << err;
    } else {
      EXPECT_NE(err.find("older nfp"), std::string::npos) << err;
      EXPECT_NE(err.find("re-export it from its checkpoint with `nfp export"), std::string::npos) << err;
    }
    std::filesystem::remove(path);
  }
  const auto v2 = edited_export("format2.nfpr", [](json& c) { c["version"] = 2; });  // layers[], no checksum
  const std::string err = c_api_error(v2);
  EXPECT_NE(err.find("runtime format 2: no checksum"), std::string::npos) << err;
  EXPECT_NE(err.find("re-export it from its checkpoint with `nfp export"), std::string::npos) << err;
  std::filesystem::remove(v2);
}

}  // namespace
}  // namespace nfp
