// Export for the runtime (torch side, library nfp_export): a Flow, a density model directory or a policy
// checkpoint -> one .nfpr file (safetensors; the runtime config as JSON in __metadata__.nfp_runtime, with the
// flow's layers listed in order; see docs/RUNTIME.md). The runtime (src/runtime) never includes this.
#pragma once
#include <filesystem>
#include <vector>

#include "nfp/flow.hpp"
#include "nfp/safetensors.hpp"

namespace nfp {

class PolicyImpl;

struct RuntimeExportOptions {
  std::string kind = "flow";  // "flow" | "density" | "policy"
  int64_t horizon = 0;        // T (0: the flow's tokens, or 1)
  int64_t context_tokens = 1; // N context vectors per observation (the transformer's cross-attention tokens)
  // Normalization (empty = identity): obs (N x C), actions (D).
  std::vector<double> obs_mean, obs_std, action_mean, action_std;
};

// One transform of a flow with the name its tensors go under (e.g. "flow.affine2").
struct NamedTransform {
  std::string name;
  Transform transform;
};

// Writes `flow` (eval weights) to `out` atomically. PLU layers get W and W^-1 computed in double.
void export_flow(FlowImpl& flow, const RuntimeExportOptions& options, const std::filesystem::path& out);

// The building blocks: the flow's tensors (under "flow.") and the runtime config; then the file (atomic).
// A transform whose kind has no exporter throws nfp::Error naming it.
void add_flow(FlowImpl& flow, const RuntimeExportOptions& options, SafeTensorsFile& file, json& config);
// The same for any sequence of transforms (data -> latent order) on D features with context C.
void add_transforms(const std::vector<NamedTransform>& layers, int64_t dim, int64_t context_dim,
                    const RuntimeExportOptions& options, SafeTensorsFile& file, json& config);
void write_nfpr(SafeTensorsFile& file, const json& config, const std::filesystem::path& out);

// A policy with a flow head (nina-mlp, nina-transformer, nfp-spline): kind "policy", the state-MLP encoder
// under "encoder.", the normalizer folded into per-element obs / action stats, clamp and sigma (see
// docs/RUNTIME.md). Other heads: nfp::Error naming the supported ones.
// `monitor`: the checkpoint's monitor calibration (nfp/monitor.hpp, score neg_logp), embedded for nfp_rt_monitor.
void export_policy(PolicyImpl& policy, const std::filesystem::path& out, const json* monitor = nullptr);

// Exports a checkpoint directory (config.json "type": "density" written by `nfp density fit`, or a flow
// policy written by `nfp train`). Returns a one-object summary (out, kind, bytes).
json export_checkpoint(const std::filesystem::path& dir, const std::filesystem::path& out);

}  // namespace nfp
