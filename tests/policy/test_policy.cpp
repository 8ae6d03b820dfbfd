// Policy and PolicyRunner: chunk queue, observation checks, inference strategies (sbs picks the most likely
// candidate, gr never lowers log p, denoise returns its chunk's log p), save -> load gives identical actions, and
// runners sharing one policy (interleaved or on two threads) act exactly as runners on their own.
#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

#include "nfp/checkpoint.hpp"
#include "nfp/error.hpp"
#include "nfp/policy_runner.hpp"
#include "policy_fixtures.hpp"

namespace nfp {
namespace {

using test::small_policy;
Observation obs(float v) { return test::small_obs(v); }

// The actions of one episode of `steps` observations obs(0.1 i).
std::vector<std::vector<float>> episode(PolicyRunner& r, uint64_t seed, int steps) {
  r.reset(seed);
  std::vector<std::vector<float>> out;
  for (int i = 0; i < steps; ++i) out.push_back(r.act(obs(0.1f * float(i))).action);
  return out;
}

TEST(PolicyRunner, QueueExecutesNActionStepsThenReplans) {
  PolicyRunner r(small_policy("nina-mlp"));
  r.reset(1);
  Chunk first;
  for (int i = 0; i < 3; ++i) {
    auto step = r.act(obs(0.1f * float(i)));
    ASSERT_EQ(step.action.size(), 2u);
    EXPECT_EQ(step.planned.has_value(), i == 0) << i;  // one chunk serves n_action_steps = 3 steps
    if (step.planned) first = *step.planned;
    // the action executed is row i of the planned chunk, inside the action range
    EXPECT_FLOAT_EQ(step.action[0], first.actions[i][0].item<float>());
    EXPECT_GE(step.action[0], -0.4f - 1e-6f);
    EXPECT_LE(step.action[1], 0.5f + 1e-6f);
  }
  auto step = r.act(obs(0.5f));
  ASSERT_TRUE(step.planned.has_value());
  EXPECT_TRUE(std::isfinite(step.planned->log_prob));
  EXPECT_GT(step.planned->latency_s, 0.0);
  r.reset(1);
  EXPECT_TRUE(r.act(obs(0.f)).planned.has_value());  // a reset empties the queue
}

TEST(PolicyRunner, BadObservationsAreClearErrorsNeverNaNActions) {
  PolicyRunner r(small_policy("regression"));
  auto o = obs(0.f);
  o.lowdim["state"][1] = NAN;
  EXPECT_THROW(r.act(o), Error);
  o = obs(0.f);
  o.lowdim["object_state"][0] = INFINITY;
  EXPECT_THROW(r.act(o), Error);
  o = obs(0.f);
  o.lowdim["state"].push_back(1.f);
  EXPECT_THROW(r.act(o), Error);
  o = obs(0.f);
  o.lowdim.erase("object_state");
  try {
    r.act(o);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("object_state"), std::string::npos);
  }
  for (int i = 0; i < 5; ++i)
    for (float v : r.act(obs(float(i))).action) EXPECT_TRUE(std::isfinite(v));
}

// A refused observation leaves the runner as it was: the episode goes on as if it had never arrived.
TEST(PolicyRunner, ARefusedObservationChangesNothing) {
  Policy p = small_policy("nfp-spline", 2);
  PolicyRunner clean(p), hit(p);
  clean.reset(5);
  hit.reset(5);
  auto bad = obs(0.3f);
  bad.lowdim["state"][0] = NAN;
  for (int i = 0; i < 7; ++i) {
    if (i == 1 || i == 3) {  // mid-chunk and at a re-plan
      EXPECT_THROW(hit.act(bad), Error);
    }
    EXPECT_EQ(hit.act(obs(0.1f * float(i))).action, clean.act(obs(0.1f * float(i))).action) << i;
  }
}

TEST(PolicyRunner, OptionsAreCheckedAgainstThePolicy) {
  Policy flow = small_policy("nina-mlp"), regression = small_policy("regression");
  RunnerOptions o = flow->default_options();
  EXPECT_EQ(o.n_action_steps, 3);
  o.n_action_steps = 7;  // > horizon 6
  EXPECT_THROW(PolicyRunner(flow, o), Error);
  o.n_action_steps = 0;
  EXPECT_THROW(PolicyRunner(flow, o), Error);
  o = regression->default_options();
  o.inference.strategy = "sbs";  // needs a likelihood
  EXPECT_THROW(PolicyRunner(regression, o), Error);
  o.inference.strategy = "best";
  EXPECT_THROW(PolicyRunner(flow, o), Error);
  // A policy in training mode would draw image shifts and dropout: refused, not silently sampled.
  regression->train();
  PolicyRunner r(regression);
  EXPECT_THROW(r.act(obs(0.f)), Error);
}

// One policy, many episodes: runners on one Policy, interleaved step by step or on two threads at once, give
// exactly (bit for bit) the actions each episode gets alone. Sampling heads, so any shared RNG or history shows.
TEST(PolicyRunner, ManyRunnersShareOnePolicy) {
  for (std::string head : {"nfp-spline", "diffusion"}) {
    Policy p = small_policy(head, 4);
    RunnerOptions o = p->default_options();
    if (head == "nfp-spline") o.inference.strategy = "sbs", o.inference.candidates = 8;
    PolicyRunner solo(p, o);
    const auto a = episode(solo, 11, 9), b = episode(solo, 12, 9);
    ASSERT_NE(a, b) << head;

    PolicyRunner ra(p, o), rb(p, o);
    ra.reset(11);
    rb.reset(12);
    for (int i = 0; i < 9; ++i) {  // b's episode steps between a's
      EXPECT_EQ(rb.act(obs(0.1f * float(i))).action, b[size_t(i)]) << head << " step " << i;
      EXPECT_EQ(ra.act(obs(0.1f * float(i))).action, a[size_t(i)]) << head << " step " << i;
    }

    std::vector<std::vector<std::vector<float>>> got(4);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
      threads.emplace_back([&, t] {
        PolicyRunner r(p, o);
        for (int rep = 0; rep < 3; ++rep) got[size_t(t)] = episode(r, t % 2 ? 12 : 11, 9);
      });
    for (auto& t : threads) t.join();
    for (int t = 0; t < 4; ++t) EXPECT_EQ(got[size_t(t)], t % 2 ? b : a) << head << " thread " << t;
  }
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

// A sampler other than the trained one (the same diffusion model sampled by DDPM or DDIM) is an inference setting;
// it means nothing to other heads and a misspelled one is refused before any episode runs.
TEST(Policy, SamplerIsCheckedAndReachesTheDiffusionHead) {
  auto diffusion = small_policy("diffusion");
  RunnerOptions o = diffusion->default_options();
  o.inference.sampler = "ddpm";
  o.inference.steps = 3;
  EXPECT_NO_THROW(diffusion->check_options(o));
  auto ctx = torch::randn({2, 16});
  auto g1 = at::make_generator<at::CPUGeneratorImpl>(7), g2 = at::make_generator<at::CPUGeneratorImpl>(7);
  const auto ddpm = run_strategy(*diffusion->head(), ctx, o.inference, g1);
  o.inference.sampler = "ddim";
  const auto ddim = run_strategy(*diffusion->head(), ctx, o.inference, g2);
  EXPECT_GT((ddpm.actions - ddim.actions).abs().max().item<double>(), 1e-4);  // DDPM adds noise at every step
  o.inference.sampler = "ddpn";
  EXPECT_THROW(diffusion->check_options(o), Error);
  auto flow = small_policy("nfp-spline");
  RunnerOptions f = flow->default_options();
  f.inference.sampler = "ddim";
  EXPECT_THROW(flow->check_options(f), Error);
}

// What `nfp eval` and `nfp tune` print: only the settings the head and strategy use.
TEST(Policy, DescribeInferenceNamesTheSettingsInUse) {
  auto flow = small_policy("nfp-spline");
  RunnerOptions o = flow->default_options();
  EXPECT_EQ(describe_inference(*flow, o), "sample, sigma 0.5, n_action_steps 3");  // the head's sigma when unset
  auto& inf = o.inference;
  inf.strategy = "sbs", inf.sigma = 0.1, inf.candidates = 16;
  EXPECT_EQ(describe_inference(*flow, o), "sbs, sigma 0.1, N 16, n_action_steps 3");
  inf.strategy = "gr", inf.gr_steps = 5;
  EXPECT_EQ(describe_inference(*flow, o), "gr, sigma 0.1, 5 Adam steps, n_action_steps 3");
  inf.strategy = "denoise";
  o.n_action_steps = 2;
  EXPECT_EQ(describe_inference(*flow, o), "denoise, n_action_steps 2");
  auto diffusion = small_policy("diffusion");
  RunnerOptions d = diffusion->default_options();
  EXPECT_EQ(describe_inference(*diffusion, d), "sample, steps 10, ddim, n_action_steps 3");
  d.inference.sampler = "ddpm", d.inference.steps = 100;
  EXPECT_EQ(describe_inference(*diffusion, d), "sample, steps 100, ddpm, n_action_steps 3");
  auto regression = small_policy("regression");
  EXPECT_EQ(describe_inference(*regression, regression->default_options()), "sample, n_action_steps 3");
}

TEST(Policy, SbsReturnsTheCandidateOfHighestLogProb) {
  auto p = small_policy("nina-mlp");
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
  for (std::string head : {"nina-transformer", "diffusion"}) {
    auto p = small_policy(head, 3);
    save_checkpoint(*p, dir);
    auto q = load_policy(dir);
    EXPECT_EQ(q->config().head.type, head);
    PolicyRunner rp(p), rq(q);
    EXPECT_EQ(episode(rp, 42, 7), episode(rq, 42, 7)) << head;
  }
  std::filesystem::remove_all(dir);
  EXPECT_THROW(load_policy(dir), Error);
}

// Strided windows (NF-P): the history frames are `stride` control steps apart, and each chunk action is held
// for `stride` steps, as the training windows were built.
TEST(PolicyRunner, StrideSpacesHistoryFramesAndHoldsEachAction) {
  // deterministic head, same weights: equal histories give equal chunks
  PolicyRunner p(small_policy("regression", 0, 2));  // history 2, stride 2: after frames A, B, C it sees (A, C)
  PolicyRunner q(small_policy("regression", 0, 1));
  p.reset();
  p.plan(obs(0.1f));
  p.plan(obs(0.2f));
  auto seen = p.plan(obs(0.3f)).actions;
  q.reset();
  q.plan(obs(0.1f));
  EXPECT_TRUE(torch::equal(q.plan(obs(0.3f)).actions, seen)) << "stride 2 should see frames A and C";
  q.reset();
  q.plan(obs(0.2f));
  EXPECT_FALSE(torch::allclose(q.plan(obs(0.3f)).actions, seen)) << "frames B and C give another chunk";

  // n_action_steps 3 x stride 2: six control steps per chunk, each of its first three rows twice
  p.reset();
  Chunk chunk;
  for (int i = 0; i < 6; ++i) {
    auto step = p.act(obs(0.1f * float(i)));
    EXPECT_EQ(step.planned.has_value(), i == 0) << i;
    if (step.planned) chunk = *step.planned;
    EXPECT_FLOAT_EQ(step.action[0], chunk.actions[i / 2][0].item<float>()) << i;
  }
  EXPECT_TRUE(p.act(obs(0.7f)).planned.has_value());
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
