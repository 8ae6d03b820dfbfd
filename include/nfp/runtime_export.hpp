// Export for the runtime (torch side): a Flow, a density model directory or a policy checkpoint -> one .nfpr
// file (safetensors; the runtime config as JSON in __metadata__.nfp_runtime; see docs/RUNTIME.md).
#pragma once
#include <filesystem>
#include <vector>

#include "nfp/flow.hpp"

namespace nfp {

struct RuntimeExportOptions {
  std::string kind = "flow";  // "flow" | "density" | "policy"
  int64_t horizon = 0;        // T (0: the flow's tokens, or 1)
  int64_t context_tokens = 1; // N context vectors per observation (the transformer's cross-attention tokens)
  // Normalization (empty = identity): obs (N x C), actions (D).
  std::vector<double> obs_mean, obs_std, action_mean, action_std;
};

// Writes `flow` (eval weights) to `out` atomically. PLU layers get W and W^-1 computed in double.
void export_flow(FlowImpl& flow, const RuntimeExportOptions& options, const std::filesystem::path& out);

// Exports a checkpoint directory (config.json "type": "density" written by `nfp density fit`). Returns a
// one-object summary (kind, dim, layers, bytes).
json export_checkpoint(const std::filesystem::path& dir, const std::filesystem::path& out);

}  // namespace nfp
