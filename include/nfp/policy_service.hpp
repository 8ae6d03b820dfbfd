// The policy server without its transport: sessions (one PolicyRunner each, on one shared Policy; or one
// RuntimeRunner each, on one shared exported model, `nfp serve --model`) and dynamic batching (libtorch backend). Frames go in as msgpack bytes, replies come out as msgpack bytes (nfp/serve_protocol.hpp), so the
// WebSocket server (nfp/serve.hpp), tests and benchmarks drive the same code.
// One worker thread plans: the requests that arrive within `batch_window_ms` of the first one waiting (at most
// max_batch, one per session) are decoded, and every chunk they need is planned in one batched pass
// (PolicyImpl::predict_batch), each from its session's own generator, so a client gets the same actions whoever
// else is being served. On the runtime backend the worker plans the sessions' chunks one after another, each on the
// session's own workspace (the runtime is fastest at batch 1).
//   nfp::PolicyService service(policy, policy->default_options(), {});
//   auto id = service.open();
//   service.submit(id, frame, [](nfp::PolicyService::Reply r) { send(r.error ? text(r.bytes) : binary(r.bytes)); });
#pragma once
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "nfp/monitor.hpp"
#include "nfp/policy_runner.hpp"
#include "nfp/runtime_runner.hpp"
#include "nfp/serve_protocol.hpp"

namespace nfp {

struct ServiceOptions {
  double batch_window_ms = 2;  // wait this long after a request arrives for others to batch with it (0: none)
  int64_t max_batch = 64;      // chunks planned in one pass at most (1: batching off)
  int64_t max_pending = 8;     // frames one session may have waiting; more is an error to that client
  KeyMap keymap;               // client keys -> observation keys
  std::string model = "nfp";   // the model's name in the metadata
  double control_hz = 10;      // the task's control rate, in the metadata
  FrameLimits limits;
  // The likelihood monitor (nfp/monitor.hpp; score neg_logp): every reply that planned a chunk carries its verdict
  // (ReplyInfo::monitor), counted per session from its last reset.
  std::optional<MonitorCalibration> monitor;
};

struct ServiceStats {
  int64_t requests = 0, errors = 0, batches = 0, chunks = 0, max_batch_seen = 0;
};

class PolicyService {
 public:
  using SessionId = uint64_t;
  struct Reply {
    bool error = false;  // bytes is then one line saying what was wrong (sent as a text frame, then close 1011)
    std::string bytes;   // otherwise the msgpack reply
  };
  using Done = std::function<void(Reply)>;

  // Throws nfp::Error on bad options (RunnerOptions are checked as PolicyRunner checks them).
  PolicyService(Policy policy, RunnerOptions run, ServiceOptions options);
  // The runtime backend: every session a RuntimeRunner on `model` (throws nfp::Error as RuntimeRunner does).
  PolicyService(std::shared_ptr<const runtime::Model> model, RuntimeRunnerOptions run, ServiceOptions options);
  ~PolicyService();  // answers what is queued, then stops the worker
  PolicyService(const PolicyService&) = delete;
  PolicyService& operator=(const PolicyService&) = delete;

  const AgentSpec& spec() const { return spec_; }
  const std::string& metadata_frame() const { return metadata_; }  // msgpack, sent first on every connection

  SessionId open();             // a new episode (runner reset with seed 0)
  void close(SessionId id);     // its queued frames are still answered (to nobody); later submits are errors
  // Queues one frame of session `id`; `done` is called exactly once, on the worker thread (or at once for a
  // session over max_pending or unknown).
  void submit(SessionId id, std::string frame, Done done);
  // Answers everything queued, then stops taking frames (submit answers with an error afterwards).
  void shutdown();
  size_t sessions() const;
  size_t pending() const;       // frames queued or being planned
  ServiceStats stats() const;

 private:
  struct Session;
  struct Job {
    std::shared_ptr<Session> session;
    std::string frame;
    Done done;
    std::chrono::steady_clock::time_point arrival;
  };
  void start();
  void work();
  void process(std::vector<Job>& jobs);

  Policy policy_{nullptr};  // the libtorch backend, or null
  RunnerOptions run_;
  std::shared_ptr<const runtime::Model> runtime_model_;  // the runtime backend, or null
  RuntimeRunnerOptions runtime_run_;
  ServiceOptions options_;
  AgentSpec spec_;
  std::string metadata_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<SessionId, std::shared_ptr<Session>> sessions_;
  std::deque<Job> queue_;
  size_t processing_ = 0;
  SessionId next_id_ = 1;
  bool stopping_ = false;
  ServiceStats stats_;
  std::thread worker_;
};

}  // namespace nfp
