// The environment contract: specs match observations, bad actions are refused without side effects,
// a seed fixes the trajectory, and a stored initial state plus actions replays the episode exactly.
#include <gtest/gtest.h>
#include <mujoco/mujoco.h>

#include <cmath>
#include <limits>

#include "nfp/error.hpp"
#include "sim_test_util.hpp"

using namespace nfp::sim;

TEST(SimEnv, UnknownTaskListsTheNames) {
  try {
    make_env("no-such-task");
    FAIL() << "expected nfp::Error";
  } catch (const nfp::Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("no-such-task"), std::string::npos) << msg;
    for (const auto& name : task_names()) EXPECT_NE(msg.find(name), std::string::npos) << msg;
  }
}

TEST(SimEnv, SpecsMatchObservations) {
  for (const auto& name : task_names()) {
    SCOPED_TRACE(name);
    TaskSpec s = task_spec(name);
    EXPECT_EQ(s.name, name);
    ASSERT_GT(s.action.dim, 0);
    EXPECT_EQ(s.action.low.size(), static_cast<size_t>(s.action.dim));
    EXPECT_EQ(s.action.high.size(), static_cast<size_t>(s.action.dim));
    EXPECT_EQ(s.action.names.size(), static_cast<size_t>(s.action.dim));
    for (int i = 0; i < s.action.dim; ++i) EXPECT_LT(s.action.low[i], s.action.high[i]);
    EXPECT_EQ(s.action.dim, s.num_arms ? 7 * s.num_arms : 2);
    EXPECT_GT(s.control_hz, 0);
    EXPECT_GT(s.max_steps, 0);
    EXPECT_FALSE(s.instructions.empty());
    auto env = make_env(name);
    Observation obs = env->reset(3);
    EXPECT_EQ(obs.lowdim.size(), s.obs_dims.size());
    for (const auto& [key, dim] : s.obs_dims) {
      ASSERT_TRUE(obs.lowdim.count(key)) << key;
      EXPECT_EQ(obs.lowdim[key].size(), static_cast<size_t>(dim)) << key;
      for (float v : obs.lowdim[key]) EXPECT_TRUE(std::isfinite(v));
    }
    EXPECT_FALSE(obs.instruction.empty());
    EXPECT_TRUE(obs.images.empty());  // images only when asked for
    EXPECT_FALSE(env->success()) << "a task must not start solved";
  }
}

TEST(SimEnv, BadActionsAreRefusedAndLeaveTheEpisodeUntouched) {
  for (const auto& name : task_names()) {
    SCOPED_TRACE(name);
    auto env = make_env(name);
    env->reset(1);
    auto expert = make_expert(*env, 1, true);
    env->step(expert->act(*env));
    const auto before = env->get_state();
    const int steps = env->steps();
    std::vector<float> good = expert->act(*env);
    std::vector<float> short_action(good.begin(), good.end() - 1);
    EXPECT_THROW(env->step(short_action), nfp::Error);
    std::vector<float> long_action = good;
    long_action.push_back(0);
    EXPECT_THROW(env->step(long_action), nfp::Error);
    for (float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()}) {
      std::vector<float> a = good;
      a[a.size() / 2] = bad;
      try {
        env->step(a);
        FAIL() << "non-finite action accepted";
      } catch (const nfp::Error& e) {
        EXPECT_NE(std::string(e.what()).find("not finite"), std::string::npos) << e.what();
      }
    }
    EXPECT_EQ(env->get_state(), before);  // bit-identical: nothing was applied
    EXPECT_EQ(env->steps(), steps);
    env->step(good);  // and the episode goes on
    EXPECT_EQ(env->steps(), steps + 1);
  }
}

TEST(SimEnv, SameSeedSameTrajectoryOtherSeedOtherStart) {
  for (const auto& name : task_names()) {
    SCOPED_TRACE(name);
    auto env = make_env(name);
    auto a = test::run_expert(*env, 7, false);
    auto b = test::run_expert(*env, 7, false);
    ASSERT_EQ(a.actions.size(), b.actions.size());
    EXPECT_EQ(a.actions, b.actions);
    EXPECT_EQ(a.states, b.states);  // deterministic to the bit
    env->reset(8);
    EXPECT_NE(env->get_state(), a.states[0]) << "the seed must randomize the initial state";
  }
}

TEST(SimEnv, ReplayingRecordedActionsReproducesTheOutcome) {
  for (const auto& name : task_names()) {
    SCOPED_TRACE(name);
    auto env = make_env(name);
    auto rec = test::run_expert(*env, 11, false);
    ASSERT_TRUE(rec.success);
    // A fresh environment, reset to the same seed (goal, instruction), restored to the stored state.
    auto replay = make_env(name);
    replay->reset(11);
    replay->set_state(rec.states[0]);
    StepResult r;
    for (size_t t = 0; t < rec.actions.size(); ++t) {
      r = replay->step(rec.actions[t]);
      ASSERT_EQ(replay->get_state(), rec.states[t + 1]) << "diverged at step " << t;
    }
    EXPECT_TRUE(r.success);
    EXPECT_TRUE(r.done);
  }
}

TEST(SimEnv, SteppingAfterDoneIsAnError) {
  auto env = make_env("push-two-goals");
  auto rec = test::run_expert(*env, 2, true);
  ASSERT_TRUE(rec.success);
  EXPECT_THROW(env->step(rec.actions.back()), nfp::Error);
  env->reset(2);
  EXPECT_NO_THROW(env->step(rec.actions[0]));
}

TEST(SimEnv, ActionsOutsideTheBoundsAreClipped) {
  auto env = make_env("push-two-goals");
  auto other = make_env("push-two-goals");
  env->reset(4), other->reset(4);
  env->step({100.f, -100.f});
  TaskSpec s = env->spec();
  other->step({s.action.high[0], s.action.low[1]});
  EXPECT_EQ(env->get_state(), other->get_state());
}

// A state whose velocities overflow the solver makes MuJoCo reset the physics (mjWARN_BADQVEL): that step ends
// the episode as a failure, and stepping on is refused like after any finished episode.
TEST(SimEnv, DivergedPhysicsEndTheEpisodeAsAFailure) {
  mju_user_warning = [](const char*) {};  // MuJoCo prints the instability; expected here
  auto env = make_env("lift");
  env->reset(0);
  const std::vector<float> zero(size_t(env->spec().action.dim), 0.f);
  ASSERT_FALSE(env->step(zero).done);
  auto s = env->get_state();
  const mjModel_* m = env->model();
  for (int i = 0; i < m->nv; ++i) s[size_t(1 + m->nq + i)] = 1e30;  // state = (time, qpos, qvel, ...)
  env->set_state(s);
  auto r = env->step(zero);
  mju_user_warning = nullptr;
  EXPECT_TRUE(r.done);
  EXPECT_FALSE(r.success);
  EXPECT_EQ(r.reward, 0.0);
  EXPECT_THROW(env->step(zero), nfp::Error);
  env->reset(1);  // a new episode starts normally
  EXPECT_FALSE(env->step(zero).done);
}

TEST(SimEnv, SetStateRejectsAStateOfTheWrongSize) {
  auto env = make_env("lift");
  env->reset(0);
  auto s = env->get_state();
  s.pop_back();
  EXPECT_THROW(env->set_state(s), nfp::Error);
}

// The insertion predicate on hand-placed states: a peg 4 cm inside the socket counts only once the socket is
// off the table; 2 cm inside does not (3 cm are required); a peg beside the socket does not.
TEST(Insertion, SuccessNeedsThreeCentimetresInsideALiftedSocket) {
  auto env = make_env("insertion");
  env->reset(0);
  const mjModel* m = env->model();
  const int sq = m->jnt_qposadr[mj_name2id(m, mjOBJ_JOINT, "socket")];
  const int pq = m->jnt_qposadr[mj_name2id(m, mjOBJ_JOINT, "peg")];
  auto place = [&](double socket_z, double peg_dx, double peg_dy) {
    // Socket (8 cm long, centre x = -0.07) axis along x; the peg's (12 cm long) -x end is at the socket's +x
    // mouth (x = -0.03) minus the insertion depth.
    std::vector<double> s = env->get_state();
    double* q = s.data() + 1;
    const double socket[7] = {-0.07, 0, socket_z, 1, 0, 0, 0};
    const double peg[7] = {-0.03 + 0.06 + peg_dx, peg_dy, socket_z, 1, 0, 0, 0};
    std::copy(socket, socket + 7, q + sq);
    std::copy(peg, peg + 7, q + pq);
    env->set_state(s);
    return env->success();
  };
  EXPECT_FALSE(place(0.028, -0.04, 0));  // inserted 4 cm, socket on the table
  EXPECT_TRUE(place(0.13, -0.04, 0));    // inserted 4 cm, lifted
  EXPECT_FALSE(place(0.13, -0.02, 0));   // only 2 cm
  EXPECT_FALSE(place(0.13, 0.01, 0));    // outside the mouth
  EXPECT_FALSE(place(0.13, -0.04, 0.1)); // beside the socket
}
