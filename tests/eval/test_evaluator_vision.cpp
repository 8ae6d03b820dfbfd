// Evaluator with an image- and instruction-conditioned policy: the trained camera is rendered at the trained
// size (the policy would throw otherwise), --instruction is recorded, and a camera the task lacks is an error.
#include <gtest/gtest.h>

#include "eval_fixtures.hpp"
#include "nfp/error.hpp"
#include "nfp/evaluator.hpp"
#include "nfp/sim_env.hpp"

namespace nfp {
namespace {

Policy image_policy(const std::string& task, const std::string& camera) {
  auto spec = sim::task_spec(task);
  Normalizer n;
  auto add = [&](const std::string& key, int d) { n.keys[key] = test::symmetric_stats(d, NormMode::min_max, 1.0); };
  PolicyConfig c;
  c.obs = {"state", "images", "instruction"};
  c.obs_keys = {"state"};
  c.obs_dims = {spec.obs_dims.at("state")};
  add("state", c.obs_dims[0]);
  add("action", spec.action.dim);
  c.cameras = {camera + "_image"};
  c.image_hw = {32, 32};
  c.image_encoder.conv_channels = 4;
  c.image_encoder.feature_dim = 8;
  std::vector<std::string> texts = spec.instructions;
  texts.push_back("put the red block on the green pad");  // multi-task's spec lists no fixed instruction
  c.instruction_encoder.vocabulary = build_vocabulary(texts).words;
  c.action_dim = spec.action.dim;
  c.horizon = 4;
  c.n_action_steps = 2;
  c.encoder_hidden = 16;
  c.context_dim = 8;
  c.head = default_head_config("regression");
  c.head.hidden = 16;
  c.task = task;
  Policy p = make_policy(c, n);
  p->eval();
  return p;
}

}  // namespace

TEST(EvaluatorVision, RendersTrainedCamerasAndRecordsInstruction) {
  auto p = image_policy("lift", "top");
  EvalOptions o = test::quiet_options("lift", 1, 4);
  o.instruction = "";
  json info = evaluate_policy(p, o);
  EXPECT_EQ(info["per_episode"][0]["steps"].get<int64_t>(), 4);
  EXPECT_EQ(info["aggregated"]["chunks"].get<int64_t>(), 2);  // 4 steps, 2 actions per chunk
  EXPECT_EQ(info["instruction_override"].get<std::string>(), "");
}

TEST(EvaluatorVision, LanguageTasksRecordGoalAndInstructionPerEpisode) {
  auto p = image_policy("multi-task", "top");
  EvalOptions o = test::quiet_options("multi-task", 2, 2);
  o.instruction = "lift the blue block";  // the override reaches the policy; the record keeps the task's own
  json info = evaluate_policy(p, o);
  for (const auto& e : info["per_episode"]) {
    const int goal = e["goal"].get<int>();
    EXPECT_GE(goal, 0);
    auto env = sim::make_env("multi-task");
    EXPECT_EQ(e["instruction"].get<std::string>(), env->reset(e["seed"].get<uint64_t>()).instruction);
    EXPECT_EQ(env->goal(), goal);
  }
}

TEST(EvaluatorVision, SuccessPerGoalAndAFixedGoal) {
  auto p = image_policy("multi-task", "top");
  EvalOptions o = test::quiet_options("multi-task", 6, 1);
  json info = evaluate_policy(p, o);
  int64_t episodes = 0;
  for (const auto& g : info["aggregated"]["per_goal"]) {
    int64_t n = 0;
    for (const auto& e : info["per_episode"]) n += e["goal"] == g["goal"];
    EXPECT_EQ(g["episodes"].get<int64_t>(), n);
    EXPECT_EQ(g["instruction"].get<std::string>(), sim::task_spec("multi-task").instructions[g["goal"].get<size_t>()]);
    episodes += n;
  }
  EXPECT_EQ(episodes, 6) << "every episode is counted under its goal";
  o.goal = 7;
  info = evaluate_policy(p, o);
  for (const auto& e : info["per_episode"]) EXPECT_EQ(e["goal"].get<int>(), 7);
  ASSERT_EQ(info["aggregated"]["per_goal"].size(), 1u);
  EXPECT_EQ(info["aggregated"]["per_goal"][0]["episodes"].get<int64_t>(), 6);
  o.goal = 10;
  EXPECT_THROW(evaluate_policy(p, o), Error) << "multi-task has goals 0..9";
  auto lift = image_policy("lift", "top");
  o.task = "lift";
  o.goal = 0;
  EXPECT_THROW(evaluate_policy(lift, o), Error) << "lift has one goal";
  o.goal = -1;
  EXPECT_FALSE(evaluate_policy(lift, o)["aggregated"].contains("per_goal"));
}

TEST(EvaluatorVision, UnknownCameraIsAnError) {
  auto p = image_policy("lift", "side");
  EvalOptions o = test::quiet_options("lift", 1);
  try {
    evaluate_policy(p, o);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("has no camera 'side'"), std::string::npos) << e.what();
  }
}

}  // namespace nfp
