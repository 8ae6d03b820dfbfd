// Flow / checkpoint -> .nfpr (the runtime's file). Tensor names are the flow module's own under "flow.";
// PLU layers also get their W and W^-1 ("flow.pluI.weight" / ".inverse_weight"), computed here in double so
// the runtime never factorizes anything.
#include <sstream>

#include "nfp/atomic_file.hpp"
#include "nfp/density_model.hpp"
#include "nfp/error.hpp"
#include "nfp/plu_linear.hpp"
#include "nfp/policy.hpp"
#include "nfp/runtime_export.hpp"
#include "nfp/safetensors.hpp"
#include "nfp/tensor_io.hpp"

namespace nfp {

void add_flow(FlowImpl& flow, const RuntimeExportOptions& o, SafeTensorsFile& file, json& cfg) {
  const FlowConfig& c = flow.config();
  torch::NoGradGuard ng;
  for (const auto& p : flow.named_parameters(true)) file.tensors["flow." + p.key()] = to_safetensor(p.value().to(torch::kFloat32));
  for (const auto& b : flow.named_buffers(true)) {
    auto v = b.value();
    file.tensors["flow." + b.key()] = to_safetensor(v.is_floating_point() ? v.to(torch::kFloat32) : v.to(torch::kLong));
  }
  for (const auto& m : flow.named_children()) {
    if (!std::dynamic_pointer_cast<PLULinearImpl>(m.value())) continue;
    auto params = m.value()->named_parameters(false);
    auto buffers = m.value()->named_buffers(false);
    auto d = [](const torch::Tensor& t) { return t.detach().to(torch::kFloat64); };
    const int64_t D = c.dim;
    auto eye = torch::eye(D, torch::kFloat64);
    auto L = d(params["lower"]) * d(buffers["lower_mask"]) + eye;
    auto U = d(params["upper"]) * d(buffers["upper_mask"]) + torch::diag(d(buffers["sign"]) * torch::exp(d(params["log_s"])));
    auto W = torch::matmul(d(buffers["perm"]), torch::matmul(L, U));
    auto Winv = torch::linalg_inv(W);
    file.tensors["flow." + m.key() + ".weight"] = to_safetensor(W.to(torch::kFloat32));
    file.tensors["flow." + m.key() + ".inverse_weight"] = to_safetensor(Winv.to(torch::kFloat32));
  }
  json norm = json::object();
  auto put = [&](const char* key, const std::vector<double>& v, int64_t size) {
    if (v.empty()) return;
    require(int64_t(v.size()) == size, std::string("export: ") + key + " needs " + std::to_string(size) + " values");
    norm[key] = v;
  };
  put("obs_mean", o.obs_mean, o.context_tokens * c.context_dim);
  put("obs_std", o.obs_std, o.context_tokens * c.context_dim);
  put("action_mean", o.action_mean, c.dim);
  put("action_std", o.action_std, c.dim);
  const int64_t T = o.horizon > 0 ? o.horizon : (c.tokens > 0 ? c.tokens : 1);
  require(c.dim % T == 0, "export: horizon must divide the flow dim");
  cfg = {{"format", "nfp-runtime"},    {"version", 1},          {"kind", o.kind},
              {"flow", json(c)},            {"horizon", T},          {"action_dim", c.dim / T},
              {"context_tokens", o.context_tokens}, {"normalization", norm}};
}

void write_nfpr(SafeTensorsFile& file, const json& cfg, const std::filesystem::path& out) {
  file.metadata = {{"format", "nfp-runtime"}, {"nfp_runtime", cfg.dump()}};
  write_safetensors(out, file);
}

void export_flow(FlowImpl& flow, const RuntimeExportOptions& o, const std::filesystem::path& out) {
  SafeTensorsFile file;
  json cfg;
  add_flow(flow, o, file, cfg);
  write_nfpr(file, cfg, out);
}

json export_checkpoint(const std::filesystem::path& dir_in, const std::filesystem::path& out) {
  require(std::filesystem::is_directory(dir_in), "'" + dir_in.string() + "' is not a checkpoint directory");
  const auto dir = checkpoint_dir(dir_in);  // `nfp train --out RUN` keeps the checkpoint in RUN/checkpoint
  const json cfg = read_json_file(dir / "config.json");
  const std::string type = cfg.value("type", "");
  RuntimeExportOptions o;
  if (type == "density") {
    DensityModel m = DensityModel::load(dir);
    const auto& dc = m.config();
    o.kind = "density";
    o.horizon = 1;
    o.obs_mean = dc.context_mean;
    o.obs_std = dc.context_std;
    o.action_mean = dc.mean;
    o.action_std = dc.std;
    export_flow(*m.flow(), o, out);
  } else if (type == "nina-mlp" || type == "nina-transformer" || type == "nfp-spline") {
    o.kind = "policy";
    Policy p = load_policy(dir);
    export_policy(*p, out);
  } else if (type == "diffusion" || type == "flow-matching" || type == "regression") {
    throw Error("'" + dir_in.string() + "' is a '" + type + "' policy; the runtime runs flow heads only " +
                "(nina-mlp, nina-transformer, nfp-spline) and density models");
  } else {
    throw Error("'" + (dir / "config.json").string() + "' has type '" + type +
                "'; nfp export handles flow policies (nina-mlp, nina-transformer, nfp-spline) and density models "
                "(the runtime runs normalizing flows only)");
  }
  return {{"out", out.string()}, {"kind", o.kind}, {"bytes", std::filesystem::file_size(out)}};
}

}  // namespace nfp
