// The policy server under load on loopback (bench/bench_serve.hpp).
#include <atomic>
#include <chrono>
#include <iostream>
#include <mutex>
#include <thread>

#include "bench_e2e.hpp"
#include "bench_serve.hpp"
#include "machine_load.hpp"
#include "nfp/evaluator.hpp"
#include "nfp/policy_runner.hpp"
#include "nfp/serve.hpp"
#include "nfp/serve_client.hpp"

namespace nfp::bench {

namespace {

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

// A server on 127.0.0.1 (any free port) running on its own thread until destroyed.
struct LocalServer {
  LocalServer(const Policy& policy, ServiceOptions so)
      : service(policy, policy->default_options(), so), server(service, options()) {
    thread = std::thread([this] { server.run(); });
  }
  ~LocalServer() {
    server.stop();
    thread.join();
  }
  static ServeOptions options() {
    ServeOptions o;
    o.port = 0;
    o.log = false;
    o.max_clients = 4096;
    return o;
  }
  std::string url() const { return "ws://127.0.0.1:" + std::to_string(server.port()); }
  PolicyService service;
  PolicyServer server;
  std::thread thread;
};

nlohmann::json load_run(const Policy& policy, const ServeBenchOptions& o, bool batching) {
  ServiceOptions so;
  so.batch_window_ms = batching ? o.batch_window_ms : 0;
  so.max_batch = batching ? o.max_batch : 1;
  LocalServer s(policy, so);
  std::vector<std::unique_ptr<RemotePolicy>> clients;
  for (int64_t c = 0; c < o.clients; ++c) clients.push_back(std::make_unique<RemotePolicy>(s.url()));
  std::vector<std::vector<double>> rt(size_t(o.clients));
  std::atomic<int64_t> errors{0}, sent{0}, answered{0};
  std::mutex error_mu;
  std::string first_error;
  const auto t0 = Clock::now();
  std::vector<std::thread> threads;
  for (int64_t c = 0; c < o.clients; ++c)
    threads.emplace_back([&, c] {
      const Observation obs = e2e_observation(*policy, uint64_t(c));
      for (int64_t r = 0; r < o.requests; ++r) {
        ++sent;
        try {
          const RemoteChunk chunk = clients[size_t(c)]->infer(obs);
          if (chunk.rows != policy->config().horizon) throw Error("a reply of " + std::to_string(chunk.rows) + " rows");
          rt[size_t(c)].push_back(chunk.round_trip_ms);
          ++answered;
        } catch (const std::exception& e) {
          ++errors;
          std::lock_guard<std::mutex> lock(error_mu);
          if (first_error.empty()) first_error = e.what();
          return;  // the server closes a connection after an error
        }
      }
    });
  for (auto& t : threads) t.join();
  const double wall_s = ms_since(t0) / 1e3;
  std::vector<double> all;
  for (const auto& v : rt) all.insert(all.end(), v.begin(), v.end());
  const auto stats = s.service.stats();
  nlohmann::json r = {{"batching", batching},
                      {"batch_window_ms", so.batch_window_ms},
                      {"max_batch", so.max_batch},
                      {"clients", o.clients},
                      {"requests_per_client", o.requests},
                      {"sent", sent.load()},
                      {"replies", answered.load()},
                      {"errors", errors.load()},
                      {"lost", sent.load() - answered.load() - errors.load()},
                      {"rt_ms_p50", percentile(all, 50)},
                      {"rt_ms_p99", percentile(all, 99)},
                      {"wall_s", wall_s},
                      {"throughput_rps", double(answered.load()) / wall_s},
                      {"batched_passes", stats.batches},
                      {"mean_batch", stats.batches ? double(stats.chunks) / double(stats.batches) : 0.0},
                      {"largest_batch", stats.max_batch_seen}};
  if (!first_error.empty()) r["first_error"] = first_error;
  return r;
}

}  // namespace

nlohmann::json serve_load(const Policy& policy, const ServeBenchOptions& o) {
  require(o.clients >= 1 && o.requests >= 1 && o.overhead_requests >= 1,
          "bench serve: clients, requests and overhead requests must be >= 1");
  nlohmann::json out = {{"policy", policy->config().head.type},
                        {"strategy", policy->default_options().inference.strategy},
                        {"horizon", policy->config().horizon},
                        {"load_before", load_average()}};
  {  // overhead: one client, interleaved with in-process plans of the same observation
    LocalServer s(policy, {});
    RemotePolicy remote(s.url());
    PolicyRunner runner(policy);
    const Observation obs = e2e_observation(*policy, 0);
    std::vector<double> rt, local;
    for (int64_t i = 0; i < o.overhead_requests + 20; ++i) {
      const auto t = Clock::now();
      runner.plan(obs);
      const double l = ms_since(t);
      const double r = remote.infer(obs).round_trip_ms;
      if (i >= 20) local.push_back(l), rt.push_back(r);  // 20 warm-up rounds
    }
    out["overhead"] = {{"requests", o.overhead_requests},
                       {"in_process_ms_p50", percentile(local, 50)},
                       {"round_trip_ms_p50", percentile(rt, 50)},
                       {"round_trip_ms_p99", percentile(rt, 99)},
                       {"overhead_ms_p50", percentile(rt, 50) - percentile(local, 50)}};
    if (o.progress) std::cerr << "bench serve: overhead measured" << std::endl;
  }
  out["batched"] = load_run(policy, o, true);
  if (o.progress) std::cerr << "bench serve: load with batching done" << std::endl;
  if (o.compare_unbatched) {
    out["unbatched"] = load_run(policy, o, false);
    out["throughput_ratio"] = out["batched"]["throughput_rps"].get<double>() / out["unbatched"]["throughput_rps"].get<double>();
  }
  out["load_after"] = load_average();
  return out;
}

}  // namespace nfp::bench
