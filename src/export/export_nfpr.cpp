// Flow / checkpoint -> .nfpr (the runtime's file). The flow's transforms are walked in order, each written by
// its kind's exporter (layer_exporters.cpp) under the flow module's own names ("flow.affine2...") and listed
// in the config's layers[], from which the runtime builds its model.
#include "export/layer_exporters.hpp"
#include "nfp/atomic_file.hpp"
#include "nfp/checkpoint.hpp"
#include "nfp/density_model.hpp"
#include "nfp/error.hpp"
#include "nfp/export.hpp"
#include "nfp/monitor.hpp"
#include "runtime/checksum.hpp"  // header-only: the one definition of the checksum the runtime verifies

namespace nfp {

void add_transforms(const std::vector<NamedTransform>& layers, int64_t dim, int64_t context_dim,
                    const RuntimeExportOptions& o, SafeTensorsFile& file, json& cfg) {
  require(!layers.empty(), "export: the flow has no transforms");
  json list = json::array();
  for (const auto& l : layers) list.push_back(export_layer(*l.transform, l.name, file));
  json norm = json::object();
  auto put = [&](const char* key, const std::vector<double>& v, int64_t size) {
    if (v.empty()) return;
    require(int64_t(v.size()) == size, std::string("export: ") + key + " needs " + std::to_string(size) + " values");
    norm[key] = v;
  };
  put("obs_mean", o.obs_mean, o.context_tokens * context_dim);
  put("obs_std", o.obs_std, o.context_tokens * context_dim);
  put("action_mean", o.action_mean, dim);
  put("action_std", o.action_std, dim);
  const int64_t T = o.horizon > 0 ? o.horizon : 1;
  require(dim % T == 0, "export: horizon must divide the flow dim");
  cfg = {{"format", "nfp-runtime"}, {"version", 3},          {"kind", o.kind},
         {"dim", dim},              {"context_dim", context_dim}, {"horizon", T},
         {"action_dim", dim / T},   {"context_tokens", o.context_tokens}, {"normalization", norm},
         {"layers", list}};
}

void add_flow(FlowImpl& flow, const RuntimeExportOptions& o, SafeTensorsFile& file, json& cfg) {
  const FlowConfig& c = flow.config();
  std::vector<NamedTransform> layers;
  for (const auto& m : flow.named_children()) {  // registration order = the order FlowImpl applies them
    auto t = std::dynamic_pointer_cast<TransformImpl>(m.value());
    require(t != nullptr, "export: the flow's module '" + m.key() + "' is not a transform");
    layers.push_back({"flow." + m.key(), t});
  }
  require(layers.size() == flow.transforms().size(), "export: the flow's modules and transforms disagree");
  RuntimeExportOptions opts = o;
  if (opts.horizon <= 0) opts.horizon = c.tokens > 0 ? c.tokens : 1;
  add_transforms(layers, c.dim, c.context_dim, opts, file, cfg);
  cfg["flow"] = json(c);  // provenance only: the runtime builds from layers[]
}

void write_nfpr(SafeTensorsFile& file, const json& cfg, const std::filesystem::path& out) {
  const std::string config = cfg.dump();
  // The checksum covers the data buffer as encode_safetensors lays it out (the tensors' bytes in name order,
  // no padding), then the config string.
  uint64_t h = rt::kFnv1a64Offset;
  for (const auto& [name, t] : file.tensors) h = rt::fnv1a64(t.data.data(), t.data.size(), h);
  h = rt::fnv1a64(config.data(), config.size(), h);
  file.metadata = {{"format", "nfp-runtime"}, {"nfp_runtime", config}, {"nfp_checksum", rt::checksum_string(h)}};
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
  const std::string type = json_get<std::string>(cfg, "type", "", (dir / "config.json").string());
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
  } else if (is_head_name(type) && head_traits(type).exportable) {
    o.kind = "policy";
    Policy p = load_policy(dir);
    const auto monitor_file = dir / kMonitorFile;  // nfp monitor calibrate's, exported with the policy
    const json monitor = std::filesystem::exists(monitor_file) ? read_json_file(monitor_file) : json();
    if (json_get<std::string>(monitor, "score", "", monitor_file.string()) == "neg_logp") {
      export_policy(*p, out, &monitor);
    } else {  // a monitor of another score stays with the checkpoint: the runtime's nfp_rt_monitor scores neg_logp
      export_policy(*p, out);
    }
  } else if (is_head_name(type)) {
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
