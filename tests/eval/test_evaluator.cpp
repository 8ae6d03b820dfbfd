// Evaluator: eval_info.json keys and values for an (untrained) policy, and task mismatch errors.
#include <gtest/gtest.h>

#include "nfp/error.hpp"
#include "nfp/evaluator.hpp"
#include "nfp/sim_env.hpp"

namespace nfp {
namespace {

Policy push_policy(const std::string& head) {
  auto spec = sim::task_spec("push-two-goals");
  PolicyConfig c;
  Normalizer n;
  auto add = [&](const std::string& key, int d, NormMode mode) {
    KeyStats s;
    s.mode = mode;
    s.min.assign(size_t(d), -0.4);
    s.max.assign(size_t(d), 0.4);
    s.mean.assign(size_t(d), 0.0);
    s.std.assign(size_t(d), 0.2);
    s.finalize();
    n.keys[key] = s;
  };
  for (const auto& [k, d] : spec.obs_dims) {
    c.obs_keys.push_back(k);
    c.obs_dims.push_back(d);
    add(k, d, NormMode::mean_std);
  }
  add("action", spec.action.dim, NormMode::min_max);
  c.action_dim = spec.action.dim;
  c.horizon = 8;
  c.n_action_steps = 4;
  c.encoder_hidden = 32;
  c.context_dim = 16;
  c.head = default_head_config(head);
  c.head.hidden = 32;
  c.head.layers = 2;
  c.task = "push-two-goals";
  return make_policy(c, n);
}

TEST(Evaluator, WritesLeRobotEvalInfo) {
  auto p = push_policy("nina-mlp");
  EvalOptions o;
  o.task = "push-two-goals";
  o.episodes = 2;
  o.seed = 100000;
  o.progress = false;
  json info = evaluate_policy(p, o);
  ASSERT_EQ(info["per_episode"].size(), 2u);
  EXPECT_EQ(info["per_episode"][1]["seed"], 100001);
  const auto& g = info["aggregated"];
  for (auto k : {"pc_success", "avg_sum_reward", "avg_max_reward", "eval_s", "eval_ep_s", "chunk_latency_ms_p50",
                 "chunk_latency_ms_p99", "mean_log_prob"})
    EXPECT_TRUE(g.contains(k)) << k;
  EXPECT_GE(g["pc_success"].get<double>(), 0.0);
  EXPECT_LE(g["pc_success"].get<double>(), 100.0);
  EXPECT_GT(g["chunk_latency_ms_p50"].get<double>(), 0.0);
  EXPECT_GE(g["chunk_latency_ms_p99"].get<double>(), g["chunk_latency_ms_p50"].get<double>());
  // an 80-step episode with 4 actions per chunk plans at least 2 chunks per episode
  EXPECT_GE(g["chunks"].get<int64_t>(), 4);
  EXPECT_TRUE(g["mean_log_prob"].is_number());
}

TEST(Evaluator, TaskMismatchIsAClearError) {
  auto p = push_policy("regression");
  EvalOptions o;
  o.task = "lift";
  o.episodes = 1;
  o.progress = false;
  EXPECT_THROW(evaluate_policy(p, o), Error);
  o.task = "no-such-task";
  EXPECT_THROW(evaluate_policy(p, o), Error);
}

TEST(Percentile, Interpolates) {
  EXPECT_DOUBLE_EQ(percentile({3, 1, 2}, 50), 2.0);
  EXPECT_DOUBLE_EQ(percentile({0, 10}, 99), 9.9);
  EXPECT_TRUE(std::isnan(percentile({}, 50)));
}

}  // namespace
}  // namespace nfp
