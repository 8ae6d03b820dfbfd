// The observation-side monitor score (nfp/embedding_monitor.hpp): a density model over the policy's embeddings.
#include "nfp/embedding_monitor.hpp"

#include <cmath>

#include "nfp/checkpoint.hpp"
#include "nfp/error.hpp"

namespace nfp {

torch::Tensor embedding_rows(const torch::Tensor& contexts) {
  require(contexts.defined() && (contexts.dim() == 2 || contexts.dim() == 3),
          "embedding monitor: expected contexts (B x C) or (B x N x C)");
  return contexts.dim() == 3 ? contexts.select(1, 0) : contexts;
}

EmbeddingMonitor::EmbeddingMonitor(DensityModel model) : model_(std::make_shared<DensityModel>(std::move(model))) {}

EmbeddingMonitor EmbeddingMonitor::load(const std::filesystem::path& run) {
  const auto dir = checkpoint_dir(run) / kEmbeddingMonitorDir;
  require(std::filesystem::exists(dir / "config.json"),
          "'" + run.string() + "' has no embedding monitor (" + dir.string() + "); run `nfp monitor fit --checkpoint " +
              run.string() + "` first");
  return EmbeddingMonitor(DensityModel::load(dir));
}

EmbeddingMonitor EmbeddingMonitor::fit(const torch::Tensor& embeddings, const EmbeddingFitOptions& o,
                                       const std::function<void(int64_t, double)>& on_step) {
  const auto e = embedding_rows(embeddings).to(torch::kFloat64).contiguous();
  require(e.size(0) >= 2, "embedding monitor: needs at least 2 embeddings to fit, got " + std::to_string(e.size(0)));
  require(torch::isfinite(e).all().item<bool>(), "embedding monitor: the policy produced non-finite embeddings");
  require(o.layers >= 1 && o.hidden >= 1, "embedding monitor: layers and hidden must be >= 1");
  Table t;
  for (int64_t c = 0; c < e.size(1); ++c) t.columns.push_back("e" + std::to_string(c));
  t.values.assign(e.data_ptr<double>(), e.data_ptr<double>() + e.numel());
  FlowConfig f;
  f.coupling = "affine";
  f.layers = o.layers;
  f.conditioner.hidden = o.hidden;
  f.conditioner.zero_init = true;  // the identity at the start: a stable fit from a standard normal
  f.permutation = "random";        // mixes all C dimensions within a few couplings
  f.seed = o.fit.seed;
  const double C = double(e.size(1));
  return EmbeddingMonitor(DensityModel::fit(t, t.columns, {}, f, o.fit, [&](int64_t step, double loss, double) {
    if (on_step) on_step(step, loss / C);
  }));
}

torch::Tensor EmbeddingMonitor::scores(const torch::Tensor& contexts) const {
  const auto e = embedding_rows(contexts).to(torch::kCPU);
  require(e.size(1) == dim(), "embedding monitor: the policy's embedding has " + std::to_string(e.size(1)) +
                                  " values; this monitor was fit on " + std::to_string(dim()) +
                                  " (another checkpoint's? refit with `nfp monitor fit`)");
  auto s = -model_->log_prob(e) / double(dim());
  return torch::where(torch::isfinite(s), s, torch::full_like(s, INFINITY));  // an underflowing q: as far out as it gets
}

double EmbeddingMonitor::score(const torch::Tensor& context) const { return scores(context)[0].item<double>(); }

int64_t EmbeddingMonitor::dim() const { return int64_t(model_->config().columns.size()); }

void EmbeddingMonitor::save(const std::filesystem::path& dir) const { model_->save(dir); }

}  // namespace nfp
