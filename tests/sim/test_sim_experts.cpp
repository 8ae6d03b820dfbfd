// Every scripted expert solves its task on 20 seeds (with the default human-like jitter and with --clean),
// the push-two-goals demonstrations really are bimodal, and every multi-task goal is solved.
#include <gtest/gtest.h>

#include "sim_test_util.hpp"

using namespace nfp::sim;

namespace {

void expect_expert_succeeds(const std::string& task, bool clean) {
  auto env = make_env(task);
  int ok = 0;
  double length = 0;
  for (uint64_t seed = 0; seed < 20; ++seed) {
    auto r = test::run_expert(*env, seed, clean);
    ok += r.success;
    length += r.actions.size();
    EXPECT_TRUE(r.success) << task << " expert failed on seed " << seed << " after " << r.actions.size() << " steps";
    EXPECT_LE(static_cast<int>(r.actions.size()), env->spec().max_steps);
  }
  std::printf("%s (%s): %d/20 succeeded, mean length %.1f steps\n", task.c_str(), clean ? "clean" : "jitter", ok,
              length / 20);
}

}  // namespace

class ExpertTest : public testing::TestWithParam<std::string> {};

TEST_P(ExpertTest, SucceedsOn20SeedsWithJitter) { expect_expert_succeeds(GetParam(), false); }
TEST_P(ExpertTest, SucceedsOn20SeedsClean) { expect_expert_succeeds(GetParam(), true); }

TEST_P(ExpertTest, JitterChangesTheDemonstration) {
  auto env = make_env(GetParam());
  auto jittered = test::run_expert(*env, 5, false);
  auto clean = test::run_expert(*env, 5, true);
  EXPECT_NE(jittered.actions, clean.actions);
}

INSTANTIATE_TEST_SUITE_P(AllTasks, ExpertTest, testing::ValuesIn(task_names()),
                         [](const testing::TestParamInfo<std::string>& info) {
                           std::string n = info.param;
                           for (char& c : n) if (c == '-') c = '_';
                           return n;
                         });

TEST(PushTwoGoals, DemonstrationsReachBothGoals) {
  auto env = make_env("push-two-goals");
  int left = 0, right = 0;
  for (uint64_t seed = 0; seed < 20; ++seed) {
    auto r = test::run_expert(*env, seed, false);
    ASSERT_TRUE(r.success);
    float block_x = env->observe().lowdim["object_state"][0];
    (block_x < 0 ? left : right)++;
  }
  // Each goal is chosen with probability 1/2; P(fewer than 4 of 20) ~ 0.1%, and the seeds are fixed.
  EXPECT_GE(left, 4);
  EXPECT_GE(right, 4);
}

TEST(MultiTask, EveryGoalsExpertSucceedsOn5Seeds) {
  const int goals = static_cast<int>(task_spec("multi-task").instructions.size());
  ASSERT_GE(goals, 6);  // the issue asks for at least 6 language goals
  for (int goal = 0; goal < goals; ++goal) {
    EnvOptions o;
    o.goal = goal;
    auto env = make_env("multi-task", o);
    for (uint64_t seed = 0; seed < 5; ++seed) {
      auto r = test::run_expert(*env, seed, false);
      EXPECT_EQ(env->goal(), goal);
      EXPECT_EQ(env->observe().instruction, env->spec().instructions[goal]);
      EXPECT_TRUE(r.success) << "goal " << goal << " (" << env->spec().instructions[goal] << "), seed " << seed;
    }
  }
}
