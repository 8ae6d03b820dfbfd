// `nfp monitor fit`: the embedding monitor (nfp/embedding_monitor.hpp) fit on the run's own training windows, split
// as the run split them, embedded as the policy embeds an observation at inference (centre crops, eval mode).
#include <chrono>
#include <cmath>

#include "nfp/atomic_file.hpp"
#include "nfp/checkpoint.hpp"
#include "nfp/embedding_monitor.hpp"
#include "nfp/error.hpp"
#include "nfp/progress.hpp"
#include "nfp/window_dataset.hpp"
#include "train/episode_split.hpp"
#include "train/observation_setup.hpp"

namespace nfp {
namespace {

// The policy's embeddings (N x C: the context's row 0) of `count` windows of `store`, evenly spaced over them.
torch::Tensor embed_windows(Policy& policy, EpisodeStore store, int64_t count, const std::string& label, bool progress) {
  const auto& pc = policy->config();
  keep_cameras(store, pc.cameras);
  const WindowDataset ds(std::make_shared<EpisodeStore>(std::move(store)), WindowSpec{pc.history, pc.horizon, pc.stride},
                         policy->normalizer(), BatchCrop{pc.image_preprocess.crop, false});
  const int64_t n = std::min(count, ds.size());
  std::vector<torch::Tensor> out;
  torch::NoGradGuard ng;
  constexpr int64_t kBatch = 256;
  Progress bar("embed " + label, n, progress);
  for (int64_t b = 0; b < n; b += kBatch) {
    std::vector<int64_t> idx;
    for (int64_t i = b; i < std::min(n, b + kBatch); ++i) idx.push_back(i * ds.size() / n);
    auto ctx = policy->encode(ds.make_batch(idx));
    out.push_back(embedding_rows(ctx).to(torch::kCPU));
    bar.update(b + int64_t(idx.size()));
  }
  bar.finish();
  return out.empty() ? torch::Tensor() : torch::cat(out, 0);
}

double mean_score(const EmbeddingMonitor& m, const torch::Tensor& e) {
  return e.defined() && e.size(0) > 0 ? m.scores(e).mean().item<double>() : NAN;
}

}  // namespace

EmbeddingFitReport fit_embedding_monitor(const std::filesystem::path& run, const EmbeddingFitOptions& o) {
  const auto t0 = std::chrono::steady_clock::now();
  require(o.max_windows >= 2, "monitor fit: --windows must be >= 2");
  const auto config_path = run / "train_config.json";
  require(std::filesystem::exists(config_path), "monitor fit: '" + run.string() +
                                                    "' is not a run directory of `nfp train` (no train_config.json)");
  const json saved = read_json_file(config_path);
  const TrainConfig tc = saved.at("train").get<TrainConfig>();
  const std::string data = o.data.empty() ? saved.value("data", std::string()) : o.data;
  require(!data.empty() && std::filesystem::exists(data),
          "monitor fit: the run's dataset '" + data + "' is not here; pass --data FILE (the dataset it trained on)");
  Policy policy = load_policy(run);
  const auto& pc = policy->config();
  EpisodeSplit split = split_for_training(data, tc, pc.image_preprocess.resize);
  const torch::Tensor train = embed_windows(policy, std::move(split.train), o.max_windows, "train", o.progress);
  require(train.defined() && train.size(0) >= 2, "monitor fit: '" + data + "' gives fewer than 2 training windows");
  const torch::Tensor valid = split.valid.episodes.empty()
                                  ? torch::Tensor()
                                  : embed_windows(policy, std::move(split.valid), o.max_windows / 4, "valid", o.progress);

  Progress bar("fit embedding flow", o.fit.steps, o.progress);
  const EmbeddingMonitor m = EmbeddingMonitor::fit(train, o, [&](int64_t step, double loss) {
    if (step % 25 == 0 || step == o.fit.steps) bar.update(step, {{"nll/dim", loss}});
  });
  bar.finish();
  EmbeddingFitReport r;
  r.windows = train.size(0);
  r.valid_windows = valid.defined() ? valid.size(0) : 0;
  r.dim = train.size(1);
  r.train_score = mean_score(m, train);
  r.valid_score = mean_score(m, valid);
  r.dir = checkpoint_dir(run) / kEmbeddingMonitorDir;
  StagedDir out(r.dir);  // an older fit stays until this one is complete
  m.save(out.path());
  out.commit();
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

}  // namespace nfp
