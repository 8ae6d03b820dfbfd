// `nfp bench serve`: a policy server under load on loopback, in one process (server and clients on this machine).
//   overhead:  one client, sequential requests, interleaved with in-process PolicyRunner::plan on the same
//              observation: server overhead = p50 round trip - p50 in-process plan (msgpack, WebSocket, queue).
//   load:      `clients` connections x `requests` chunk requests each (openpi's client pattern: send, wait, repeat),
//              once with dynamic batching and once with batching off (max_batch 1), each against a fresh server;
//              per mode: replies, errors, lost (sent and never answered), round-trip p50/p99, throughput, mean batch.
//   nlohmann::json r = nfp::bench::serve_load(nfp::load_policy("runs/push"), {});
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>

#include "nfp/policy.hpp"

namespace nfp::bench {

struct ServeBenchOptions {
  int64_t clients = 64;
  int64_t requests = 1000;          // per client and mode
  int64_t overhead_requests = 1000; // single-client round trips (and as many in-process plans)
  double batch_window_ms = 2;
  int64_t max_batch = 64;
  bool compare_unbatched = true;    // also run the load with batching off
  bool progress = true;
};

nlohmann::json serve_load(const Policy& policy, const ServeBenchOptions& options);

}  // namespace nfp::bench
