// Evaluator: eval_info.json keys and values for an (untrained) policy, and task mismatch errors.
#include <gtest/gtest.h>

#include "eval_fixtures.hpp"
#include "nfp/error.hpp"
#include "nfp/evaluator.hpp"
#include "nfp/sim_env.hpp"

namespace nfp {
namespace {

using test::push_policy;

TEST(Evaluator, WritesLeRobotEvalInfo) {
  auto p = push_policy("nina-mlp");
  EvalOptions o = test::quiet_options("push-two-goals", 2);
  o.seed = 100000;
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
  EvalOptions o = test::quiet_options("lift", 1);
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
