// Policy checkpoint -> .nfpr: the head's flow as export_flow writes it, plus what turns raw observations into
// the flow's context (the state-MLP encoder, under "encoder.") and the normalizer folded into per-element
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

}  // namespace

void export_policy(PolicyImpl& policy, const std::filesystem::path& out) {
  const PolicyConfig& c = policy.config();
  const std::string& type = c.head.type;
  require(head_traits(type).exportable,
          "policy head '" + type + "' cannot be exported: the runtime runs flow heads only (nina-mlp, "
          "nina-transformer, nfp-spline)");
  for (const auto& m : c.obs)
    require(m == "state", "policy observes '" + m + "': the runtime runs low-dimensional (state) policies only; "
                          "image and instruction encoders are not exported yet");
  std::shared_ptr<FlowImpl> flow;
  for (const auto& m : policy.head()->named_children())
    if (m.key() == "flow") flow = std::dynamic_pointer_cast<FlowImpl>(m.value());
  require(flow != nullptr, "policy head '" + type + "' holds no flow module");

  // The encoder's input, in the order PolicyImpl::encode concatenates it: each key's history (m x d),
  // then the previous action; normalized per element.
  RuntimeExportOptions o;
  o.kind = "policy";
  o.horizon = c.horizon;
  o.context_tokens = 1;
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
  int64_t linears = 0;
  for (const auto& p : policy.named_parameters(true)) {
    if (p.key().rfind("encoder.", 0) != 0) continue;
    file.tensors[p.key()] = to_safetensor(p.value().to(torch::kFloat32));
    linears += p.key().size() > 7 && p.key().substr(p.key().size() - 7) == ".weight" && p.value().dim() == 2;
  }
  require(linears == c.encoder_layers + 1, "policy encoder: expected " + std::to_string(c.encoder_layers + 1) +
                                               " Linear layers, found " + std::to_string(linears));
  cfg["encoder"] = {{"input_dim", in},
                    {"hidden", c.encoder_hidden},
                    {"layers", c.encoder_layers},
                    {"output_dim", c.context_dim}};
  cfg["action_clamp"] = 1.0;  // PolicyImpl clamps the normalized chunk to [-1, 1] before unnormalizing
  cfg["sigma"] = c.head.sigma;
  cfg["policy"] = {{"type", type},
                   {"obs_keys", c.obs_keys},
                   {"obs_dims", c.obs_dims},
                   {"history", c.history},
                   {"stride", c.stride},
                   {"prev_action", c.prev_action},
                   {"n_action_steps", c.n_action_steps},
                   {"task", c.task},
                   {"inference", json(c.inference)}};
  write_nfpr(file, cfg, out);
}

}  // namespace nfp
