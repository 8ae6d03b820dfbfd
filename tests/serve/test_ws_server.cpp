// `nfp serve`'s transport on loopback: the openpi handshake and replies, health, authentication, limits, hostile
// peers, graceful stop and idle clients. Every test binds port 0 on 127.0.0.1 and ends within seconds.
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <thread>

#include "nfp/serve.hpp"
#include "nfp/serve_client.hpp"
#include "serve/raw_peer.hpp"
#include "serve/serve_fixtures.hpp"

namespace nfp {
namespace {

using test::push_observation;

// A server for `policy` running on its own thread for the test's lifetime.
struct LiveServer {
  LiveServer(Policy policy, ServeOptions o = {}, ServiceOptions so = {}, RunnerOptions run = {}, bool custom_run = false)
      : service(policy, custom_run ? run : policy->default_options(), so), server(service, loopback(o)) {
    thread = std::thread([this] { server.run(); });
  }
  ~LiveServer() {
    server.stop();
    if (thread.joinable()) thread.join();
  }
  static ServeOptions loopback(ServeOptions o) {
    o.host = "127.0.0.1";
    o.port = 0;
    o.log = false;
    return o;
  }
  std::string url() const { return "ws://127.0.0.1:" + std::to_string(server.port()); }
  PolicyService service;
  PolicyServer server;
  std::thread thread;
};

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(WsServer, MetadataThenChunksAndSteps) {
  Policy p = test::push_policy("nfp-spline");
  LiveServer s(p);
  RemotePolicy remote(s.url());
  EXPECT_EQ(remote.metadata()["protocol"], kServeProtocol);
  EXPECT_EQ(remote.spec().obs_keys, p->config().obs_keys);
  EXPECT_EQ(remote.spec().horizon, 8);
  const RemoteChunk c = remote.infer(push_observation(0));
  EXPECT_EQ(c.rows, 8);
  EXPECT_EQ(c.action_dim, p->config().action_dim);
  EXPECT_TRUE(std::isfinite(c.log_prob));
  EXPECT_TRUE(c.server_timing.contains("infer_ms"));
  // step requests after a reset replay an in-process episode exactly
  PolicyRunner local(p);
  local.reset(3);
  remote.reset(3);
  for (int k = 0; k < 9; ++k) {
    const ActStep a = remote.act(push_observation(k)), b = local.act(push_observation(k));
    EXPECT_EQ(a.action, b.action) << "step " << k;
    EXPECT_EQ(a.planned.has_value(), b.planned.has_value());
  }
}

TEST(WsServer, HealthAndPlainHttp) {
  LiveServer s(test::push_policy("regression"));
  test::RawPeer health(s.server.port());
  const auto h = health.http_get("/healthz");
  EXPECT_NE(h.find("200"), std::string::npos) << h;
  EXPECT_NE(h.find("\r\n\r\nOK"), std::string::npos) << h;
  test::RawPeer other(s.server.port());
  EXPECT_NE(other.http_get("/").find("426"), std::string::npos);
}

TEST(WsServer, ApiKeyAndClientLimit) {
  ServeOptions o;
  o.api_key = "s3cret";
  o.max_clients = 1;
  LiveServer s(test::push_policy("regression"), o);
  EXPECT_NE(error_of([&] { RemotePolicy r(s.url()); }).find("HTTP 401"), std::string::npos);
  EXPECT_NE(error_of([&] { RemotePolicy r(s.url(), "wrong"); }).find("HTTP 401"), std::string::npos);
  RemotePolicy ok(s.url(), "s3cret");
  EXPECT_EQ(ok.infer(push_observation(0)).rows, 8);
  EXPECT_EQ(s.server.clients(), 1u);
  EXPECT_NE(error_of([&] { RemotePolicy r(s.url(), "s3cret"); }).find("HTTP 503"), std::string::npos);
}

TEST(WsServer, HostilePeersDoNotDisturbOthers) {
  ServeOptions o;
  o.max_message_bytes = 4096;
  LiveServer s(test::push_policy("nfp-spline"), o);
  RemotePolicy good(s.url());
  std::atomic<bool> done{false};
  std::atomic<int> served{0};
  std::thread steady([&] {  // a well-behaved client, served throughout
    while (!done) {
      if (good.infer(push_observation(served)).rows == 8) ++served;
    }
  });
  {  // a text frame: the error as text, then close 1011
    RemotePolicy t(s.url());
    EXPECT_NE(error_of([&] { t.request("hello", /*text*/ true); }).find("send binary frames"), std::string::npos);
    EXPECT_NE(error_of([&] { t.request(test::encode_request(push_observation(0))); }).find("code 1011"), std::string::npos);
  }
  {  // not msgpack, a missing key
    RemotePolicy m(s.url());
    EXPECT_NE(error_of([&] { m.request("\xc1"); }).find("not a valid msgpack frame"), std::string::npos);
    RemotePolicy k(s.url());
    Observation partial = push_observation(0);
    partial.lowdim.erase(partial.lowdim.begin());
    EXPECT_NE(error_of([&] { k.request(test::encode_request(partial)); }).find("lacks observation"), std::string::npos);
  }
  {  // over --max-message-bytes: closed with 1009 before the server reads it all
    RemotePolicy big(s.url());
    EXPECT_NE(error_of([&] { big.request(std::string(8192, 'x')); }).find("code 1009"), std::string::npos);
  }
  {  // a frame header claiming 2^62 bytes
    test::RawPeer liar(s.server.port());
    ASSERT_NE(liar.handshake().find("101"), std::string::npos);
    liar.send_frame("", uint64_t(1) << 62);
    liar.read();  // the server closes
  }
  {  // a client that sends a request and vanishes before the reply
    test::RawPeer gone(s.server.port());
    ASSERT_NE(gone.handshake().find("101"), std::string::npos);
    gone.send_frame(test::encode_request(push_observation(1)), test::encode_request(push_observation(1)).size());
    gone.close();
  }
  const int before = served;
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  done = true;
  steady.join();
  EXPECT_GT(served, before) << "the steady client was still being served after the hostile ones";
  EXPECT_EQ(good.infer(push_observation(0)).rows, 8);
}

TEST(WsServer, StopAnswersInFlightRequestsThenClosesWith1001) {
  Policy p = test::push_policy("nfp-spline");
  RunnerOptions slow = p->default_options();
  slow.inference.strategy = "sbs";
  slow.inference.candidates = 4096;  // a pass of tens of milliseconds
  LiveServer s(p, {}, {}, slow, true);
  RemotePolicy remote(s.url());
  auto reply = std::async(std::launch::async, [&] { return remote.infer(push_observation(0)); });
  for (int i = 0; i < 2000 && s.service.pending() == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  ASSERT_GT(s.service.pending(), 0u) << "the request reached the server";
  s.server.stop();
  EXPECT_EQ(reply.get().rows, 8) << "the request in flight was answered";
  const std::string after = error_of([&] { remote.infer(push_observation(1)); });
  EXPECT_NE(after.find("code 1001"), std::string::npos) << after;
  s.thread.join();  // run() returned
  EXPECT_EQ(s.service.pending(), 0u);
}

TEST(WsServer, IdleClientsAreClosed) {
  ServeOptions o;
  o.idle_timeout_s = 0.2;
  LiveServer s(test::push_policy("regression"), o);
  RemotePolicy idle(s.url());
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_NE(error_of([&] { idle.infer(push_observation(0)); }).find("idle"), std::string::npos);
  RemotePolicy fresh(s.url());
  EXPECT_EQ(fresh.infer(push_observation(0)).rows, 8);
}

TEST(WsServer, BindErrorsAreOneLine) {
  LiveServer s(test::push_policy("regression"));
  Policy p = test::push_policy("regression");
  PolicyService service(p, p->default_options(), {});
  ServeOptions taken;
  taken.port = s.server.port();
  taken.log = false;
  EXPECT_NE(error_of([&] { PolicyServer x(service, taken); }).find("cannot listen on 127.0.0.1:"), std::string::npos);
  ServeOptions bad;
  bad.host = "localhost.example";
  EXPECT_NE(error_of([&] { PolicyServer x(service, bad); }).find("is not an IP address"), std::string::npos);
}

}  // namespace
}  // namespace nfp
