// Policy: chunk queue, observation checks, inference strategies (sbs picks the most likely candidate, gr
// never lowers log p, denoise returns its chunk's log p), save -> load gives identical actions.
#include <gtest/gtest.h>

#include <filesystem>

#include "nfp/error.hpp"
#include "nfp/policy.hpp"

namespace nfp {
namespace {

KeyStats stats(NormMode mode, std::vector<double> lo, std::vector<double> hi) {
  KeyStats s;
  s.mode = mode;
  s.min = lo;
  s.max = hi;
  for (size_t i = 0; i < lo.size(); ++i) {
    s.mean.push_back(0.5 * (lo[i] + hi[i]));
    s.std.push_back(0.5 * (hi[i] - lo[i]));
  }
  s.count = 10;
  s.finalize();
  return s;
}

Policy small_policy(const std::string& head, uint64_t seed = 0) {
  PolicyConfig c;
  c.obs_keys = {"state", "object_state"};
  c.obs_dims = {2, 3};
  c.action_dim = 2;
  c.horizon = 6;
  c.n_action_steps = 3;
  c.encoder_hidden = 32;
  c.context_dim = 16;
  c.head = default_head_config(head);
  c.head.hidden = 32;
  c.head.layers = 3;
  c.head.down_dims = {16, 32};
  c.head.seed = seed;
  Normalizer n;
  n.keys["action"] = stats(NormMode::min_max, {-0.4, -0.3}, {0.4, 0.5});
  n.keys["state"] = stats(NormMode::mean_std, {-1, -1}, {1, 1});
  n.keys["object_state"] = stats(NormMode::mean_std, {-1, -1, 0}, {1, 1, 2});
  torch::manual_seed(seed);
  return make_policy(c, n);
}

std::map<std::string, std::vector<float>> obs(float v) { return {{"state", {v, -v}}, {"object_state", {0.1f, v, 1.0f}}}; }

TEST(Policy, QueueExecutesNActionStepsThenReplans) {
  auto p = small_policy("nina-mlp");
  p->eval();
  p->reset(1);
  for (int i = 0; i < 3; ++i) {
    auto a = p->act(obs(0.1f * float(i)));
    ASSERT_EQ(a.size(), 2u);
    EXPECT_EQ(p->chunks_planned(), 1);
    // the action executed is row i of the planned chunk, inside the action range
    EXPECT_FLOAT_EQ(a[0], p->last_chunk().actions[i][0].item<float>());
    EXPECT_GE(a[0], -0.4f - 1e-6f);
    EXPECT_LE(a[1], 0.5f + 1e-6f);
  }
  p->act(obs(0.5f));
  EXPECT_EQ(p->chunks_planned(), 2);
  EXPECT_TRUE(std::isfinite(p->last_chunk().log_prob));
  EXPECT_GT(p->last_chunk().latency_s, 0.0);
  p->reset(1);
  EXPECT_EQ(p->chunks_planned(), 0);
}

TEST(Policy, BadObservationsAreClearErrorsNeverNaNActions) {
  auto p = small_policy("regression");
  p->eval();
  p->reset();
  auto o = obs(0.f);
  o["state"][1] = NAN;
  EXPECT_THROW(p->act(o), Error);
  o = obs(0.f);
  o["object_state"][0] = INFINITY;
  EXPECT_THROW(p->act(o), Error);
  o = obs(0.f);
  o["state"].push_back(1.f);
  EXPECT_THROW(p->act(o), Error);
  o = obs(0.f);
  o.erase("object_state");
  try {
    p->act(o);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("object_state"), std::string::npos);
  }
  for (int i = 0; i < 5; ++i)
    for (float v : p->act(obs(float(i)))) EXPECT_TRUE(std::isfinite(v));
}

TEST(Policy, LikelihoodStrategiesNeedAFlowHead) {
  auto p = small_policy("regression");
  auto gen = at::make_generator<at::CPUGeneratorImpl>(0);
  InferenceOptions o;
  o.strategy = "sbs";
  EXPECT_THROW(run_strategy(*p->head(), torch::randn({1, 16}), o, gen), Error);
  o.strategy = "best";
  EXPECT_THROW(run_strategy(*p->head(), torch::randn({1, 16}), o, gen), Error);
}

// What `nfp eval` and `nfp tune` print: only the settings the head and strategy use.
TEST(Policy, DescribeInferenceNamesTheSettingsInUse) {
  auto flow = small_policy("nfp-spline");
  EXPECT_EQ(describe_inference(flow), "sample, sigma 0.5, n_action_steps 3");  // the head's sigma when unset
  auto& inf = flow->mutable_config().inference;
  inf.strategy = "sbs", inf.sigma = 0.1, inf.candidates = 16;
  EXPECT_EQ(describe_inference(flow), "sbs, sigma 0.1, N 16, n_action_steps 3");
  inf.strategy = "gr", inf.gr_steps = 5;
  EXPECT_EQ(describe_inference(flow), "gr, sigma 0.1, 5 Adam steps, n_action_steps 3");
  inf.strategy = "denoise";
  EXPECT_EQ(describe_inference(flow), "denoise, n_action_steps 3");
  auto diffusion = small_policy("diffusion");
  EXPECT_EQ(describe_inference(diffusion), "sample, steps 10, n_action_steps 3");
  auto regression = small_policy("regression");
  EXPECT_EQ(describe_inference(regression), "sample, n_action_steps 3");
}

TEST(Policy, SbsReturnsTheCandidateOfHighestLogProb) {
  auto p = small_policy("nina-mlp");
  p->eval();
  auto ctx = torch::randn({3, 16});
  InferenceOptions o;
  o.strategy = "sbs";
  o.candidates = 32;
  auto g1 = at::make_generator<at::CPUGeneratorImpl>(5), g2 = at::make_generator<at::CPUGeneratorImpl>(5);
  auto r = run_strategy(*p->head(), ctx, o, g1);
  torch::NoGradGuard ng;
  auto all = p->head()->sample(ctx, 32, {}, g2);  // the same candidates
  auto lp = all.log_prob.view({3, 32});
  auto best = lp.argmax(1);
  for (int64_t b = 0; b < 3; ++b) {
    EXPECT_FLOAT_EQ(r.log_prob[b].item<float>(), lp[b].max().item<float>());
    EXPECT_TRUE(torch::equal(r.actions[b], all.actions[b * 32 + best[b].item<int64_t>()]));
    EXPECT_GT(r.log_prob[b].item<float>(), lp[b].median().item<float>());
  }
}

TEST(Policy, GradientRefinementNeverLowersLogProbAndDenoiseIsConsistent) {
  for (std::string head : {"nina-mlp", "nfp-spline"}) {
    auto p = small_policy(head);
    p->eval();
    auto ctx = torch::randn({8, 16});
    InferenceOptions plain, gr;
    gr.strategy = "gr";
    gr.gr_steps = 10;
    gr.gr_lr = 0.05;
    auto g1 = at::make_generator<at::CPUGeneratorImpl>(9), g2 = at::make_generator<at::CPUGeneratorImpl>(9);
    auto a = run_strategy(*p->head(), ctx, plain, g1);
    auto r = run_strategy(*p->head(), ctx, gr, g2);
    EXPECT_TRUE((r.log_prob >= a.log_prob).all().item<bool>()) << head;
    EXPECT_GT((r.log_prob - a.log_prob).max().item<float>(), 0.1f) << head << ": refinement never helped";
    torch::NoGradGuard ng;
    EXPECT_TRUE(torch::allclose(p->head()->log_prob(r.actions, ctx), r.log_prob, 1e-4, 1e-3)) << head;
    InferenceOptions dn;
    dn.strategy = "denoise";
    auto g3 = at::make_generator<at::CPUGeneratorImpl>(9);
    auto d = run_strategy(*p->head(), ctx, dn, g3);
    EXPECT_TRUE(torch::allclose(p->head()->log_prob(d.actions, ctx), d.log_prob, 1e-4, 1e-3)) << head;
    EXPECT_FALSE(torch::equal(d.actions, a.actions)) << head;  // the score step moved the chunk
  }
}

TEST(Policy, SaveLoadGivesIdenticalActions) {
  const auto dir = std::filesystem::temp_directory_path() / ("nfp_policy_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  for (std::string head : {"nina-transformer", "diffusion"}) {
    auto p = small_policy(head, 3);
    p->eval();
    save_policy(p, dir);
    auto q = load_policy(dir);
    EXPECT_EQ(q->config().head.type, head);
    p->reset(42);
    q->reset(42);
    for (int i = 0; i < 7; ++i) EXPECT_EQ(p->act(obs(0.1f * float(i))), q->act(obs(0.1f * float(i)))) << head;
  }
  std::filesystem::remove_all(dir);
  EXPECT_THROW(load_policy(dir), Error);
}

// Strided windows (NF-P): the history frames are `stride` control steps apart, and each chunk action is held
// for `stride` steps, as the training windows were built.
TEST(Policy, StrideSpacesHistoryFramesAndHoldsEachAction) {
  auto p = small_policy("regression");  // deterministic head, same weights as q: equal histories, equal chunks
  auto q = small_policy("regression");
  p->eval();
  q->eval();
  p->mutable_config().stride = 2;  // history 2, stride 2: after frames A, B, C the policy sees (A, C)
  p->reset();
  p->predict_chunk(obs(0.1f));
  p->predict_chunk(obs(0.2f));
  auto seen = p->predict_chunk(obs(0.3f)).actions;
  q->reset();
  q->predict_chunk(obs(0.1f));
  EXPECT_TRUE(torch::equal(q->predict_chunk(obs(0.3f)).actions, seen)) << "stride 2 should see frames A and C";
  q->reset();
  q->predict_chunk(obs(0.2f));
  EXPECT_FALSE(torch::allclose(q->predict_chunk(obs(0.3f)).actions, seen)) << "frames B and C give another chunk";

  // n_action_steps 3 x stride 2: six control steps per chunk, each of its first three rows twice
  p->reset();
  for (int i = 0; i < 6; ++i) {
    auto a = p->act(obs(0.1f * float(i)));
    EXPECT_EQ(p->chunks_planned(), 1);
    EXPECT_FLOAT_EQ(a[0], p->last_chunk().actions[i / 2][0].item<float>()) << i;
  }
  p->act(obs(0.7f));
  EXPECT_EQ(p->chunks_planned(), 2);
}

TEST(Policy, ConfigJsonRoundTrip) {
  auto p = small_policy("nfp-spline");
  json j = p->config();
  EXPECT_EQ(j["type"], "nfp-spline");
  PolicyConfig back;
  from_json(j, back);
  EXPECT_EQ(json(back), j);
  j["horizn"] = 3;
  EXPECT_THROW(from_json(j, back), Error);
}

}  // namespace
}  // namespace nfp
