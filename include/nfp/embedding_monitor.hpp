// The observation-side monitor score: a small normalizing flow q over the policy's embedding of its observation
// (the head's context, Chunk::context row 0), fit on the embeddings of the run's training windows. A rollout state
// unlike the demonstrations' embeds where q is low, whatever the head: regression, diffusion and flow matching
// policies, which have no likelihood of their own, get this score too (FAIL-Detect's embedding density idea, with
// an exact density). Fit once after training (`nfp monitor fit`); scored at every plan from the context the
// policy already computed: no extra encoder pass.
//   nfp::EmbeddingMonitor m = nfp::EmbeddingMonitor::load("runs/lift");    // RUN/checkpoint/monitor_embedding/
//   double s = m.score(chunk.context);                                     // -log q(e) / C, higher = less familiar
#pragma once
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "nfp/density_model.hpp"

namespace nfp {

// The embedding flow's directory inside a checkpoint: config.json (a density model over columns e0..e{C-1}) and
// model.safetensors, as `nfp density fit` writes them.
inline constexpr const char* kEmbeddingMonitorDir = "monitor_embedding";

struct EmbeddingFitOptions {
  std::string data;             // dataset (empty: the one the run trained on, from RUN/train_config.json)
  int64_t max_windows = 20000;  // training windows embedded (evenly spaced over the episodes when there are more)
  int64_t layers = 4;           // affine couplings (random permutations)
  int64_t hidden = 256;         // their conditioners' width
  double noise = 0.05;          // Gaussian noise on the standardized training embeddings (smooths a density fit on a
                                // few thousand correlated windows; NinA's action noise, on the other side)
  DensityFitOptions fit{1500, 256, 1e-3, 1e-4, 5.0, 0};
  bool progress = true;
};

// What a fit measured: mean -log q / C over the training windows and over the held-out (validation) episodes'.
struct EmbeddingFitReport {
  int64_t windows = 0, valid_windows = 0, dim = 0;
  double train_score = 0, valid_score = 0;  // NaN valid_score without validation episodes
  double seconds = 0;
  std::filesystem::path dir;                // where it was saved
};

class EmbeddingMonitor {
 public:
  explicit EmbeddingMonitor(DensityModel model);
  // From RUN (or a checkpoint directory); nfp::Error naming `nfp monitor fit` when the run has none.
  static EmbeddingMonitor load(const std::filesystem::path& run);
  // Fits q on embeddings (N x C), rows as Chunk::context's row 0 holds them.
  static EmbeddingMonitor fit(const torch::Tensor& embeddings, const EmbeddingFitOptions& options,
                              const std::function<void(int64_t step, double loss)>& on_step = {});

  // -log q(e) / C for each row of contexts (B x C, or B x N x C: row 0 of each); +infinity where q underflows.
  torch::Tensor scores(const torch::Tensor& contexts) const;
  double score(const torch::Tensor& context) const;  // one context (1 x C or 1 x N x C)
  int64_t dim() const;
  void save(const std::filesystem::path& dir) const;  // into an existing directory

 private:
  std::shared_ptr<DensityModel> model_;  // scored in eval mode without gradients: reads only the weights
};

// The embedding of each context: row 0 of (B x N x C) contexts (the encoded observation, before any instruction
// tokens), or (B x C) contexts as they are. nfp::Error for any other rank.
torch::Tensor embedding_rows(const torch::Tensor& contexts);

// Embeds the run's training windows with its policy (centre crops, eval mode), fits q on them, reports the
// held-out episodes' score, and commits RUN/checkpoint/monitor_embedding/ atomically (replacing an older fit).
EmbeddingFitReport fit_embedding_monitor(const std::filesystem::path& run, const EmbeddingFitOptions& options);

}  // namespace nfp
