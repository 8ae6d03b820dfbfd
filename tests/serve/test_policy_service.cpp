// The server without its transport: chunk and step requests against in-process runners, and dynamic batching
// that gives every client the actions it would get alone.
#include <gtest/gtest.h>

#include <future>

#include "nfp/policy_service.hpp"
#include "serve/serve_fixtures.hpp"

namespace nfp {
namespace {

using test::encode_request;
using test::encode_reset;
using test::push_observation;
using test::reply_actions;

// Submits and waits for the reply.
PolicyService::Reply call(PolicyService& s, PolicyService::SessionId id, const std::string& frame) {
  std::promise<PolicyService::Reply> p;
  auto f = p.get_future();
  s.submit(id, frame, [&p](PolicyService::Reply r) { p.set_value(std::move(r)); });
  return f.get();
}

std::vector<float> flat(const torch::Tensor& t) {
  auto c = t.contiguous();
  return std::vector<float>(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
}

void expect_near(const std::vector<float>& a, const std::vector<float>& b, double tol) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], tol) << "element " << i;
}

TEST(PolicyService, ChunkRequestsEqualTheRunnersPlans) {
  Policy p = test::push_policy("nfp-spline");
  PolicyService service(p, p->default_options(), {});
  PolicyRunner runner(p);
  runner.reset(5);
  const auto id = service.open();
  ASSERT_FALSE(call(service, id, encode_reset(5)).error);
  for (int k = 0; k < 3; ++k) {
    auto r = call(service, id, encode_request(push_observation(k)));
    ASSERT_FALSE(r.error) << r.bytes;
    std::vector<int64_t> shape;
    auto actions = reply_actions(r.bytes, &shape);
    EXPECT_EQ(shape, (std::vector<int64_t>{8, p->config().action_dim}));
    const Chunk c = runner.plan(push_observation(k));
    runner.assume_executed(c);
    EXPECT_EQ(actions, flat(c.actions)) << "request " << k;  // batch of one: the same computation
  }
}

TEST(PolicyService, StepRequestsAreTheRunnersActions) {
  for (const std::string head : {"nfp-spline", "diffusion"}) {
    Policy p = test::push_policy(head);
    PolicyService service(p, p->default_options(), {});
    PolicyRunner runner(p);
    runner.reset(11);
    const auto id = service.open();
    ASSERT_FALSE(call(service, id, encode_reset(11)).error);
    int planned = 0;
    for (int k = 0; k < 10; ++k) {
      auto r = call(service, id, encode_request(push_observation(k), "step"));
      ASSERT_FALSE(r.error) << r.bytes;
      const ActStep s = runner.act(push_observation(k));
      EXPECT_EQ(reply_actions(r.bytes), s.action) << head << " step " << k;
      auto h = unpack_frame(r.bytes.data(), r.bytes.size());
      EXPECT_EQ(msgpack_to_json(h.get())["planned"].get<bool>(), s.planned.has_value());
      planned += s.planned.has_value();
    }
    EXPECT_EQ(planned, 3) << "n_action_steps 4: steps 0, 4 and 8 plan";
  }
}

// With a monitor, every reply that planned a chunk carries its verdict: the chunk index counts from the session's
// reset, the score is the calibration's standardized -log p / D of the chunk planned, an alarm sticks for the episode.
TEST(PolicyService, RepliesCarryTheMonitorsVerdict) {
  Policy p = test::push_policy("nfp-spline");
  PolicyRunner runner(p);
  runner.reset(3);
  MonitorCalibration c;
  c.mean = {1e9, -1e9};  // chunk 0 far below its band's centre, chunk 1 and later far above: alarm from chunk 1 on
  c.scale = {1.0, 1.0};
  c.quantile = 2.0;
  ServiceOptions o;
  o.monitor = c;
  PolicyService service(p, p->default_options(), o);
  const auto id = service.open();
  ASSERT_FALSE(call(service, id, encode_reset(3)).error);
  const double D = double(p->config().horizon * p->config().action_dim);
  for (int k = 0; k < 3; ++k) {
    auto r = call(service, id, encode_request(push_observation(k)));
    ASSERT_FALSE(r.error) << r.bytes;
    const Chunk chunk = runner.plan(push_observation(k));
    runner.assume_executed(chunk);
    auto h = unpack_frame(r.bytes.data(), r.bytes.size());
    const json m = msgpack_to_json(h.get())["monitor"];
    EXPECT_EQ(m["chunk"], k);
    EXPECT_EQ(m["alarm"], k >= 1);
    EXPECT_EQ(m["episode_alarm"], k >= 1);
    EXPECT_NEAR(m["score"].get<double>(), c.standardized(size_t(k), -chunk.log_prob / D), 1e-3 * std::abs(m["score"].get<double>()));
  }
  ASSERT_FALSE(call(service, id, encode_reset(3)).error);  // a new episode: chunk 0 again, no alarm yet
  auto r = call(service, id, encode_request(push_observation(0)));
  ASSERT_FALSE(r.error) << r.bytes;
  auto h = unpack_frame(r.bytes.data(), r.bytes.size());
  const json m = msgpack_to_json(h.get())["monitor"];
  EXPECT_EQ(m["chunk"], 0);
  EXPECT_EQ(m["episode_alarm"], false);
  // without a monitor the key is absent (openpi's clients see what they always saw)
  PolicyService plain(p, p->default_options(), {});
  const auto id2 = plain.open();
  auto r2 = call(plain, id2, encode_request(push_observation(0)));
  auto h2 = unpack_frame(r2.bytes.data(), r2.bytes.size());
  EXPECT_FALSE(msgpack_to_json(h2.get()).contains("monitor"));
}

// Eight clients at once, one pass: each gets (up to the float rounding of a larger product) the chunk it gets
// alone, for a one-shot flow, SBS and a diffusion head that draws noise at every step.
TEST(PolicyService, BatchedClientsGetTheirOwnChunks) {
  struct Case {
    std::string head, strategy;
  };
  for (const auto& c : {Case{"nfp-spline", "sample"}, Case{"nina-mlp", "sbs"}, Case{"diffusion", "sample"}}) {
    Policy p = test::push_policy(c.head);
    RunnerOptions run = p->default_options();
    run.inference.strategy = c.strategy;
    run.inference.candidates = 8;
    ServiceOptions batched;
    batched.batch_window_ms = 1000;  // everyone arrives within the window: one pass
    PolicyService service(p, run, batched);
    const int n = 8;
    std::vector<PolicyService::SessionId> ids;
    for (int i = 0; i < n; ++i) ids.push_back(service.open());
    for (int i = 0; i < n; ++i)  // a session's frames are answered in order: each reset comes before its request
      service.submit(ids[size_t(i)], encode_reset(uint64_t(100 + i)), [](PolicyService::Reply r) { EXPECT_FALSE(r.error); });
    std::vector<std::promise<PolicyService::Reply>> replies(n);
    for (int i = 0; i < n; ++i)
      service.submit(ids[size_t(i)], encode_request(push_observation(i)),
                     [&replies, i](PolicyService::Reply r) { replies[size_t(i)].set_value(std::move(r)); });
    std::vector<std::vector<float>> batched_actions;
    for (auto& r : replies) {
      auto reply = r.get_future().get();
      ASSERT_FALSE(reply.error) << reply.bytes;
      batched_actions.push_back(reply_actions(reply.bytes));
    }
    EXPECT_EQ(service.stats().max_batch_seen, n) << c.head;
    for (int i = 0; i < n; ++i) {
      PolicyRunner alone(p, run);
      alone.reset(uint64_t(100 + i));
      // float32 sums over a batch of 8 vs 1 differ in the last bits; 1e-4 of the [-0.4, 0.4] action range
      expect_near(batched_actions[size_t(i)], flat(alone.plan(push_observation(i)).actions), 1e-4);
    }
  }
}

TEST(PolicyService, ErrorsGoToTheirClientOnly) {
  Policy p = test::push_policy("nfp-spline");
  ServiceOptions o;
  o.batch_window_ms = 200;
  PolicyService service(p, p->default_options(), o);
  const auto good = service.open(), bad = service.open();
  std::promise<PolicyService::Reply> pg, pb;
  service.submit(bad, "\xc1", [&](PolicyService::Reply r) { pb.set_value(std::move(r)); });
  service.submit(good, encode_request(push_observation(0)), [&](PolicyService::Reply r) { pg.set_value(std::move(r)); });
  auto rb = pb.get_future().get(), rg = pg.get_future().get();
  EXPECT_TRUE(rb.error);
  EXPECT_NE(rb.bytes.find("not a valid msgpack frame"), std::string::npos) << rb.bytes;
  EXPECT_FALSE(rg.error) << rg.bytes;
  // a wrong width names the key; the session goes on
  Observation o2 = push_observation(0);
  o2.lowdim.begin()->second.push_back(1.0f);
  auto r = call(service, good, encode_request(o2));
  EXPECT_TRUE(r.error);
  EXPECT_NE(r.bytes.find("values, expected"), std::string::npos) << r.bytes;
  EXPECT_FALSE(call(service, good, encode_request(push_observation(1))).error) << "the session still works";
  EXPECT_EQ(service.stats().errors, 2);
}

TEST(PolicyService, ClosedAndFloodingSessionsAreRefused) {
  Policy p = test::push_policy("nfp-spline");
  ServiceOptions o;
  o.max_pending = 2;
  o.batch_window_ms = 300;
  PolicyService service(p, p->default_options(), o);
  const auto a = service.open();
  service.open();  // a second, silent session keeps the window open
  std::vector<std::promise<PolicyService::Reply>> r(3);
  for (int i = 0; i < 3; ++i)
    service.submit(a, encode_request(push_observation(i)), [&r, i](PolicyService::Reply x) { r[size_t(i)].set_value(std::move(x)); });
  auto third = r[2].get_future().get();  // answered at once
  EXPECT_TRUE(third.error);
  EXPECT_NE(third.bytes.find("too many requests in flight"), std::string::npos);
  EXPECT_FALSE(r[0].get_future().get().error);
  EXPECT_FALSE(r[1].get_future().get().error);
  EXPECT_EQ(service.sessions(), 2u);
  service.close(a);
  EXPECT_EQ(service.sessions(), 1u);
  auto closed = call(service, a, encode_request(push_observation(0)));
  EXPECT_TRUE(closed.error);
  service.shutdown();
  auto after = call(service, service.open(), encode_request(push_observation(0)));
  EXPECT_TRUE(after.error);
  EXPECT_NE(after.bytes.find("shutting down"), std::string::npos);
}

}  // namespace
}  // namespace nfp
