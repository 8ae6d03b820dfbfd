// Policy checkpoint -> .nfpr: the head's flow as export_flow writes it, plus what turns raw observations into
// the flow's context (the state-MLP encoder, under "encoder."; the camera and instruction encoders under their
// module names, their structure in the config's encoder section) and the normalizer folded into per-element
// affine stats, so the runtime takes observations and returns chunks in data units.
#include "nfp/error.hpp"
#include "nfp/policy.hpp"
#include "nfp/export.hpp"
#include "nfp/tensor_io.hpp"

namespace nfp {
namespace {

// normalized = (x - center) * inv_scale  <=>  (x - mean) / std with mean = center, std = 1 / inv_scale
// (identity keys: center 0, inv_scale 1). Appends `repeat` copies of the key's stats.
void append_stats(const KeyStats& s, int64_t dim, int64_t repeat, std::vector<double>& mean, std::vector<double>& std) {
  for (int64_t r = 0; r < repeat; ++r)
    for (int64_t j = 0; j < dim; ++j) {
      const bool id = s.mode == NormMode::identity || s.center.empty();
      mean.push_back(id ? 0.0 : double(s.center[size_t(j)]));
      std.push_back(id ? 1.0 : 1.0 / double(s.inv_scale[size_t(j)]));
    }
}

int64_t rows(const torch::nn::Module& m, const std::string& name) {
  auto params = m.named_parameters(true);
  require(params.contains(name), "export: the image encoder has no weight '" + name + "'");
  return params[name].size(0);
}

// One image encoder's entry (model_encoders.cpp reads it); its weights are written with the policy's.
json image_encoder_entry(const ImageEncoderImpl& enc, const std::string& name) {
  const ImageEncoderConfig& c = enc.config();
  require(c.type == "conv" || c.type == "resnet18",
          "image encoder '" + c.type + "' runs under libtorch only (the runtime runs the conv and resnet18 encoders); "
          "deploy this policy with `nfp serve --checkpoint` or retrain with --encoder conv|resnet18");
  std::vector<int64_t> channels;
  if (c.type == "conv") {
    for (int i = 0; i < 4; ++i) channels.push_back(rows(enc, "trunk." + std::to_string(3 * i) + ".weight"));
  } else {
    for (int s = 1; s <= 4; ++s) channels.push_back(rows(enc, "trunk.layer" + std::to_string(s) + ".0.conv1.weight"));
  }
  return {{"name", name},         {"type", c.type},          {"channels", channels},
          {"pool", c.pool},       {"feature_dim", c.feature_dim}, {"groups", c.groups},
          {"imagenet_norm", !c.pretrained.empty()}};
}

// The cameras: their size in training, the resize and crop that nfp::prepare_image applies, one encoder entry
// per encoder module (shared: one) and which camera reads which.
json images_entry(PolicyImpl& policy) {
  const PolicyConfig& c = policy.config();
  const ImageSize input{c.image_hw.at(0), c.image_hw.at(1)};
  const ImageSize camera = camera_size(c.image_preprocess, input);
  json j = {{"cameras", c.cameras}, {"camera_hw", {camera.height, camera.width}}, {"input_hw", {input.height, input.width}}};
  const ImageSize resize = c.image_preprocess.resize;
  if (!resize.empty() && resize != camera) j["resize_hw"] = {resize.height, resize.width};
  json encoders = json::array();
  for (const auto& m : policy.named_children())
    if (auto e = std::dynamic_pointer_cast<ImageEncoderImpl>(m.value())) encoders.push_back(image_encoder_entry(*e, m.key()));
  require(!encoders.empty(), "export: the policy has cameras but no image encoder module");
  std::vector<int64_t> of;
  for (size_t i = 0; i < c.cameras.size(); ++i) of.push_back(encoders.size() == 1 ? 0 : int64_t(i));
  j["encoders"] = encoders;
  j["camera_encoder"] = of;
  return j;
}

json instruction_entry(const PolicyConfig& c) {
  const InstructionEncoderConfig& e = c.instruction_encoder;
  return {{"name", "instruction_encoder"}, {"vocabulary", e.vocabulary}, {"embed_dim", e.embed_dim},
          {"max_tokens", e.max_tokens},    {"heads", e.heads},           {"layers", e.layers},
          {"pool", e.pool},                {"tokens", c.instruction_tokens}};
}

// The parameters the runtime's encoders read, under the policy's own names.
bool encoder_parameter(const std::string& key) {
  for (const char* p : {"encoder.", "image_encoder", "instruction_encoder.", "token_proj."})
    if (key.rfind(p, 0) == 0) return true;
  return false;
}

}  // namespace

void export_policy(PolicyImpl& policy, const std::filesystem::path& out, const json* monitor) {
  const PolicyConfig& c = policy.config();
  const std::string& type = c.head.type;
  require(head_traits(type).exportable,
          "policy head '" + type + "' cannot be exported: the runtime runs flow heads only (nina-mlp, "
          "nina-transformer, nfp-spline)");
  std::shared_ptr<FlowImpl> flow;
  for (const auto& m : policy.head()->named_children())
    if (m.key() == "flow") flow = std::dynamic_pointer_cast<FlowImpl>(m.value());
  require(flow != nullptr, "policy head '" + type + "' holds no flow module");

  // The encoder's input, in the order PolicyImpl::encode concatenates it: each key's history (m x d),
  // then the previous action; normalized per element.
  RuntimeExportOptions o;
  o.kind = "policy";
  o.horizon = c.horizon;
  const bool words = has_modality(c, "instruction");
  o.context_tokens = 1 + (words && c.instruction_tokens ? c.instruction_encoder.max_tokens : 0);
  const Normalizer& nz = policy.normalizer();
  std::vector<double> obs_mean, obs_std;
  int64_t in = 0;
  for (size_t i = 0; i < c.obs_keys.size(); ++i) {
    append_stats(nz.at(c.obs_keys[i]), c.obs_dims[i], c.history, obs_mean, obs_std);
    in += c.history * c.obs_dims[i];
  }
  const KeyStats& act = nz.at(Normalizer::kActionKey);
  if (c.prev_action) {
    append_stats(act, c.action_dim, 1, obs_mean, obs_std);
    in += c.action_dim;
  }
  append_stats(act, c.action_dim, c.horizon, o.action_mean, o.action_std);

  SafeTensorsFile file;
  json cfg;
  add_flow(*flow, o, file, cfg);
  // add_flow sized the obs stats for the context; a policy's are the encoder input's.
  cfg["normalization"]["obs_mean"] = obs_mean;
  cfg["normalization"]["obs_std"] = obs_std;
  torch::NoGradGuard ng;
  int64_t linears = 0, mlp_in = 0;
  for (const auto& p : policy.named_parameters(true)) {
    if (!p.value().defined() || !encoder_parameter(p.key())) continue;
    file.tensors[p.key()] = to_safetensor(p.value().to(torch::kFloat32));
    if (p.key().rfind("encoder.", 0) != 0 || p.value().dim() != 2) continue;
    if (linears++ == 0) mlp_in = p.value().size(1);
  }
  require(linears == c.encoder_layers + 1, "policy encoder: expected " + std::to_string(c.encoder_layers + 1) +
                                               " Linear layers, found " + std::to_string(linears));
  cfg["encoder"] = {{"input_dim", mlp_in},  {"hidden", c.encoder_hidden},
                    {"layers", c.encoder_layers}, {"output_dim", c.context_dim},
                    {"state_dim", in},      {"prev_action_dim", c.prev_action ? c.action_dim : 0},
                    {"history", c.history}};
  if (!c.cameras.empty()) cfg["encoder"]["images"] = images_entry(policy);
  if (words) cfg["encoder"]["instruction"] = instruction_entry(c);
  cfg["action_clamp"] = 1.0;  // PolicyImpl clamps the normalized chunk to [-1, 1] before unnormalizing
  cfg["sigma"] = c.head.sigma;
  if (monitor) {  // the likelihood monitor's band and quantile, for the runtime's nfp_rt_monitor
    require(monitor->value("score", "") == "neg_logp", "export: the checkpoint's monitor.json calibrates the '" +
                                                           monitor->value("score", "") + "' score; the runtime computes "
                                                           "neg_logp only (recalibrate with --score neg_logp)");
    cfg["monitor"] = {{"score", "neg_logp"},           {"alpha", monitor->at("alpha")}, {"mean", monitor->at("mean")},
                      {"scale", monitor->at("scale")}, {"quantile", monitor->at("quantile")}};
  }
  cfg["policy"] = {{"type", type},
                   {"obs_keys", c.obs_keys},
                   {"obs_dims", c.obs_dims},
                   {"history", c.history},
                   {"stride", c.stride},
                   {"prev_action", c.prev_action},
                   {"n_action_steps", c.n_action_steps},
                   {"task", c.task},
                   {"cameras", c.cameras},
                   {"instruction", words},
                   {"inference", json(c.inference)}};
  write_nfpr(file, cfg, out);
}

}  // namespace nfp
