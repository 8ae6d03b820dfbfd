// Inference tuning: the grid's cells (candidates vary only for sbs), the choice of the best, a grid checked
// before any episode runs, and apply_inference rewriting only a checkpoint's config.json.
#include <gtest/gtest.h>

#include <filesystem>
#include <set>

#include "eval_fixtures.hpp"
#include "nfp/atomic_file.hpp"
#include "nfp/checkpoint.hpp"
#include "nfp/error.hpp"
#include "nfp/tune.hpp"

namespace nfp {
namespace {

using test::push_policy;

TuneOptions options(TuneGrid grid) {
  TuneOptions o;
  o.task = "push-two-goals";
  o.episodes = 1;
  o.seed = 200000;
  o.progress = false;
  o.grid = std::move(grid);
  return o;
}

TEST(Tune, EvaluatesEveryCellAndPicksTheBest) {
  auto p = push_policy("nfp-spline");
  TuneOptions o = options({{"sample", "sbs"}, {0.2, 0.5}, {4, 8}, {2}});
  size_t reported = 0;
  o.on_cell = [&](const json&, size_t i, size_t n) {
    EXPECT_EQ(i, reported++);
    EXPECT_EQ(n, 6u);
  };
  const json before = p->config();
  json r = tune_inference(p, p->default_options(), o);
  ASSERT_EQ(r["cells"].size(), 6u);  // sample x 2 sigmas, sbs x 2 sigmas x 2 candidate counts
  EXPECT_EQ(reported, 6u);
  EXPECT_EQ(r["goals"], 1);
  std::set<std::string> seen;
  for (const auto& c : r["cells"]) {
    EXPECT_EQ(c.contains("candidates"), c["strategy"] == "sbs") << c.dump();
    EXPECT_EQ(c["n_action_steps"], 2);
    EXPECT_GE(c["pc_success"].get<double>(), 0.0);
    EXPECT_EQ(c["worst_goal_pc_success"], c["pc_success"]) << "one goal: its success is the worst";
    EXPECT_GT(c["chunk_latency_ms_p50"].get<double>(), 0.0);
    seen.insert(c.dump());
  }
  EXPECT_EQ(seen.size(), 6u) << "no cell twice";
  // No cell beats the best: higher success, or equal success and a better worst goal, or both equal and faster.
  const json& best = r["cells"][r["best"].get<size_t>()];
  for (const auto& c : r["cells"]) {
    const double s = c["pc_success"], bs = best["pc_success"], w = c["worst_goal_pc_success"],
                 bw = best["worst_goal_pc_success"];
    EXPECT_FALSE(s > bs || (s == bs && (w > bw || (w == bw && c["chunk_latency_ms_p50"] < best["chunk_latency_ms_p50"]))))
        << c.dump() << " beats the chosen " << best.dump();
  }
  const RunnerOptions picked = cell_options(p->default_options(), best);
  EXPECT_EQ(picked.inference.strategy, best["strategy"]);
  EXPECT_EQ(picked.inference.sigma, best["sigma"].get<double>());
  EXPECT_EQ(picked.n_action_steps, 2);
  EXPECT_EQ(json(p->config()), before) << "tuning never changes the policy";
}

TEST(Tune, EmptyListsKeepTheCheckpointsSettings) {
  auto p = push_policy("nfp-spline");
  RunnerOptions base = p->default_options();
  base.inference.strategy = "sbs";
  base.inference.candidates = 5;
  json r = tune_inference(p, base, options({{}, {}, {}, {3}}));
  ASSERT_EQ(r["cells"].size(), 1u);
  const auto& c = r["cells"][0];
  EXPECT_EQ(c["strategy"], "sbs");
  EXPECT_EQ(c["candidates"], 5);
  EXPECT_DOUBLE_EQ(c["sigma"].get<double>(), p->config().head.sigma);  // inference.sigma < 0: the head's
  EXPECT_EQ(c["n_action_steps"], 3);
}

TEST(Tune, ABadGridFailsBeforeAnyEpisode) {
  auto p = push_policy("nfp-spline");
  auto fails = [&](TuneGrid g, const std::string& what) {
    TuneOptions o = options(std::move(g));
    o.on_cell = [](const json&, size_t, size_t) { ADD_FAILURE() << "an episode ran"; };
    try {
      tune_inference(p, p->default_options(), o);
      ADD_FAILURE() << "no error for " << what;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
    }
  };
  fails({{"sbs", "nope"}, {}, {}, {}}, "unknown strategy 'nope'");
  fails({{}, {0.3, -0.1}, {}, {}}, "sigma must be >= 0");
  fails({{}, {}, {0}, {}}, "candidates must be >= 1");
  fails({{}, {}, {}, {2, 9}}, "n_action_steps must be in 1..8");
  auto reg = push_policy("regression");
  TuneOptions o = options({{"sbs"}, {}, {}, {}});
  EXPECT_THROW(tune_inference(reg, reg->default_options(), o), Error);  // sbs needs a likelihood
}

TEST(Tune, ApplyRewritesOnlyTheConfig) {
  const auto dir = std::filesystem::temp_directory_path() / ("nfp_tune_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  auto p = push_policy("nfp-spline");
  save_checkpoint(*p, dir / "checkpoint");
  const std::string weights = read_file(dir / "checkpoint" / "model.safetensors");
  apply_inference(dir, {{"strategy", "sbs"}, {"sigma", 0.25}, {"candidates", 16}, {"n_action_steps", 3}});
  Policy q = load_policy(dir);
  EXPECT_EQ(q->config().inference.strategy, "sbs");
  EXPECT_DOUBLE_EQ(q->config().inference.sigma, 0.25);
  EXPECT_EQ(q->config().inference.candidates, 16);
  EXPECT_EQ(q->config().n_action_steps, 3);
  EXPECT_EQ(q->config().horizon, p->config().horizon);  // the rest of the config is kept
  EXPECT_EQ(read_file(dir / "checkpoint" / "model.safetensors"), weights);
  EXPECT_THROW(apply_inference(dir / "nope", {{"strategy", "sbs"}, {"sigma", 0.2}, {"n_action_steps", 2}}), Error);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace nfp
