// The monitor's policy-side scores: each chunk carries the context it was planned from (what the embedding
// monitor scores), the continuation score is log p of the previous chunk's remainder under the next context
// (checked against a direct density pass), and the embedding monitor ranks familiar embeddings below shifted ones,
// round-trips through its directory, and refuses embeddings of another width in one message.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "nfp/embedding_monitor.hpp"
#include "nfp/error.hpp"
#include "nfp/policy_runner.hpp"
#include "policy_fixtures.hpp"

namespace nfp {
namespace {

using test::small_policy;
using test::small_obs;

TEST(PolicyRunner, ChunksCarryTheirContextAndTheContinuationScore) {
  Policy p = small_policy("nina-mlp");
  RunnerOptions o = p->default_options();  // horizon 6, n_action_steps 3
  PolicyRunner off(p, o);
  o.score_continuation = true;
  PolicyRunner on(p, o);
  off.reset(3);
  on.reset(3);
  std::vector<Chunk> chunks;
  for (int i = 0; i < 9; ++i) {
    const auto a = off.act(small_obs(0.1f * float(i))), b = on.act(small_obs(0.1f * float(i)));
    EXPECT_EQ(a.action, b.action) << "scoring must not change what the runner does (step " << i << ")";
    ASSERT_EQ(a.planned.has_value(), b.planned.has_value());
    if (!b.planned) continue;
    EXPECT_TRUE(std::isnan(a.planned->continuation_log_prob)) << "off by default";
    chunks.push_back(*b.planned);
  }
  ASSERT_EQ(chunks.size(), 3u);
  EXPECT_TRUE(std::isnan(chunks[0].continuation_log_prob)) << "the first chunk has no predecessor";
  for (size_t k = 0; k < chunks.size(); ++k) {
    ASSERT_TRUE(chunks[k].context.defined());
    EXPECT_EQ(chunks[k].context.sizes(), (std::vector<int64_t>{1, 16}));
    // The chunk's own log p, recomputed from the context it carries.
    EXPECT_NEAR(p->log_prob(chunks[k].context, chunks[k].normalized.unsqueeze(0)).item<double>(), chunks[k].log_prob,
                1e-3 * std::max(1.0, std::abs(chunks[k].log_prob)));
  }
  // Chunk k's continuation: chunk k-1's rows 3..5, clamped, the last repeated to 6 rows, under chunk k's context.
  for (size_t k = 1; k < chunks.size(); ++k) {
    const auto prev = chunks[k - 1].normalized.clamp(-1.0, 1.0);
    const auto rest = torch::cat({prev.narrow(0, 3, 3), prev[5].unsqueeze(0).expand({3, 2})}, 0).unsqueeze(0);
    const double want = p->log_prob(chunks[k].context, rest).item<double>();
    EXPECT_NEAR(chunks[k].continuation_log_prob, want, 1e-4 * std::max(1.0, std::abs(want))) << k;
  }
  // A head without a likelihood: no continuation, and no error.
  RunnerOptions r = small_policy("regression")->default_options();
  r.score_continuation = true;
  PolicyRunner reg(small_policy("regression"), r);
  reg.reset(0);
  for (int i = 0; i < 4; ++i) {
    const auto s = reg.act(small_obs(0.f));
    if (s.planned) {
      EXPECT_TRUE(std::isnan(s.planned->continuation_log_prob));
    }
  }
}

TEST(EmbeddingMonitor, RanksShiftedEmbeddingsAboveFamiliarOnesAndRoundTrips) {
  torch::manual_seed(0);
  const int64_t C = 6;
  // Familiar embeddings: correlated Gaussian rows (a mixing matrix), far from standard units on purpose.
  const auto mix = torch::randn({C, C});
  const auto train = torch::randn({800, C}).matmul(mix) * 3.0 + 10.0;
  EmbeddingFitOptions o;
  o.fit.steps = 300;
  o.fit.batch = 128;
  o.layers = 2;
  o.hidden = 32;
  int64_t last_step = 0;
  const EmbeddingMonitor m = EmbeddingMonitor::fit(train, o, [&](int64_t step, double) { last_step = step; });
  EXPECT_EQ(last_step, 300);
  EXPECT_EQ(m.dim(), C);
  const auto familiar = torch::randn({200, C}).matmul(mix) * 3.0 + 10.0;
  const auto shifted = familiar + 3.0 * torch::randn({200, C}).sign() * 3.0;  // ~3 std off in every coordinate
  const auto sf = m.scores(familiar), ss = m.scores(shifted);
  // A Gaussian's -log q / C grows by ~(3^2)/2 = 4.5 nats per dimension three std out; the flow must see most of it.
  EXPECT_GT(ss.mean().item<double>() - sf.mean().item<double>(), 2.0);
  // Per-episode ranking as the monitor uses it: shifted rows above familiar ones (AUROC over rows).
  double wins = 0;
  for (int64_t i = 0; i < 200; ++i) wins += (ss[i] > sf).to(torch::kDouble).mean().item<double>();
  EXPECT_GT(wins / 200, 0.95);
  // (1 x C) and (1 x N x C) contexts score their first row (to float32 rounding: one row vs a batch's GEMM).
  const auto row = familiar.narrow(0, 0, 1);
  EXPECT_NEAR(m.score(row), sf[0].item<double>(), 1e-5);
  EXPECT_NEAR(m.score(torch::stack({row, row * 0 + 99}, 1)), sf[0].item<double>(), 1e-5);
  // Save / load gives the same scores; another width is refused in one message.
  const auto dir = std::filesystem::temp_directory_path() / ("nfp_embedding_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir / "checkpoint" / kEmbeddingMonitorDir);
  m.save(dir / "checkpoint" / kEmbeddingMonitorDir);
  std::ofstream(dir / "checkpoint" / "config.json") << "{}";
  const EmbeddingMonitor back = EmbeddingMonitor::load(dir);
  EXPECT_TRUE(torch::allclose(back.scores(familiar), sf, 1e-9, 1e-9));
  try {
    m.scores(torch::zeros({1, C + 1}));
    ADD_FAILURE() << "a wider embedding was scored";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("nfp monitor fit"), std::string::npos) << e.what();
  }
  std::filesystem::remove_all(dir);
  EXPECT_THROW(EmbeddingMonitor::load(dir), Error);
  // An underflowing density is the farthest-out score, never NaN.
  EXPECT_EQ(m.score(torch::full({1, C}, 1e30)), INFINITY);
}

}  // namespace
}  // namespace nfp
