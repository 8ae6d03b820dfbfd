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

namespace nfp {
namespace {

// The failure benchmark's perturbations do what they say, reproducibly, and nothing before their step.
TEST(Perturbation, EachKindChangesWhatItNamesFromItsStep) {
  auto env = sim::make_env("push-two-goals");
  const Observation start = env->reset(5);
  // object_shift: the block (on slide joints no actuator drives) moves by the magnitude; the pusher does not.
  PerturbationRun shift({"object_shift", 2, 0.1}, 5);
  Observation o = start;
  shift.before_policy(1, *env, o);
  EXPECT_EQ(o.lowdim, start.lowdim) << "before its step";
  shift.before_policy(2, *env, o);
  const auto& a = start.lowdim.at("object_state");
  const auto& b = o.lowdim.at("object_state");
  EXPECT_NEAR(std::hypot(b[0] - a[0], b[1] - a[1]), 0.1, 1e-3) << "the block moved 0.1 m";
  EXPECT_EQ(o.lowdim.at("state"), start.lowdim.at("state")) << "the pusher stayed";
  EXPECT_EQ(env->observe().lowdim.at("object_state"), b) << "in the simulator, not only the observation";
  Observation again = o;
  shift.before_policy(3, *env, again);
  EXPECT_EQ(again.lowdim, o.lowdim) << "once";
  // action_noise: within the action's range, different from the action, reproducible for a seed.
  const auto& spec = env->spec().action;
  std::vector<float> x(size_t(spec.dim), 0.0f), y = x, z = x;
  PerturbationRun n1({"action_noise", 0, 0.5}, 9), n2({"action_noise", 0, 0.5}, 9);
  n1.on_action(0, spec, y);
  n2.on_action(0, spec, z);
  EXPECT_EQ(y, z);
  EXPECT_NE(y, x);
  for (int i = 0; i < spec.dim; ++i) EXPECT_TRUE(y[size_t(i)] >= spec.low[size_t(i)] && y[size_t(i)] <= spec.high[size_t(i)]);
  // cameras: blackout, colour swap, noise (the environment is not touched)
  Observation img;
  img.images["top_image"] = Image{2, 2, std::vector<uint8_t>{10, 20, 30, 10, 20, 30, 10, 20, 30, 10, 20, 30}};
  Observation black = img, colour = img, noisy = img;
  PerturbationRun({"camera_blackout", 0, 0}, 1).before_policy(0, *env, black);
  PerturbationRun({"camera_colour", 0, 1.0}, 1).before_policy(0, *env, colour);
  PerturbationRun({"camera_noise", 0, 0.2}, 1).before_policy(0, *env, noisy);
  EXPECT_EQ(black.images["top_image"].pixels, std::vector<uint8_t>(12, 0));
  EXPECT_EQ(colour.images["top_image"].pixels[0], 30);
  EXPECT_EQ(colour.images["top_image"].pixels[2], 10);
  EXPECT_NE(noisy.images["top_image"].pixels, img.images["top_image"].pixels);
  Observation dropped = start;
  PerturbationRun({"sensor_dropout", 0, 1.0}, 1).before_policy(0, *env, dropped);
  for (const auto& [key, v] : dropped.lowdim)
    for (float x : v) EXPECT_TRUE(std::isnan(x)) << key;
  // weak_gripper: gripper commands held at or above the magnitude of their range from its step; joints untouched.
  auto lift = sim::make_env("lift");
  const auto& arm = lift->spec().action;
  ASSERT_EQ(arm.names[6], "gripper");
  std::vector<float> closed(size_t(arm.dim), 0.0f), open = closed;
  open[6] = 1.0f;
  PerturbationRun weak({"weak_gripper", 3, 0.43}, 1);
  std::vector<float> early = closed;
  weak.on_action(2, arm, early);
  EXPECT_EQ(early, closed) << "before its step";
  std::vector<float> c = closed, w = open;
  weak.on_action(3, arm, c);
  weak.on_action(3, arm, w);
  EXPECT_FLOAT_EQ(c[6], 0.43f) << "a closing gripper stops at 43% of its opening";
  EXPECT_EQ(w, open) << "an opening gripper is untouched";
  for (size_t i = 0; i < 6; ++i) EXPECT_EQ(c[i], 0.0f) << "joint " << i;
  std::vector<float> pusher(2, -0.3f);  // push-two-goals has no gripper: nothing changes
  PerturbationRun({"weak_gripper", 0, 1.0}, 1).on_action(0, env->spec().action, pusher);
  EXPECT_EQ(pusher, std::vector<float>(2, -0.3f));
  EXPECT_THROW(check_perturbation({"gravity", 0, 1}), Error);
  EXPECT_THROW(check_perturbation({"action_noise", 0, -1}), Error);
  EXPECT_THROW(check_perturbation({"action_noise", -1, 1}), Error);
}

}  // namespace
}  // namespace nfp
