// Sessions and dynamic batching: one worker thread decodes the frames that arrived together, plans all the chunks
// they need in one batched pass, and answers each from its session's runner.
#include "nfp/policy_service.hpp"

#include <algorithm>
#include <chrono>
#include <optional>

namespace nfp {

// One client's episode on either backend (the runners share their API).
struct PolicyService::Session {
  explicit Session(PolicyRunner r) : torch(std::move(r)) {}
  explicit Session(std::unique_ptr<RuntimeRunner> r) : runtime(std::move(r)) {}
  std::optional<PolicyRunner> torch;      // touched by the worker thread only
  std::unique_ptr<RuntimeRunner> runtime;  // or this
  bool open = true;        // guarded by mu_
  int64_t pending = 0;     // frames queued, guarded by mu_
  double prev_total_ms = -1;  // worker thread only
  int64_t chunks = 0;         // planned since the last reset (the monitor's chunk index), worker thread only
  bool alarmed = false;       // the monitor alarmed since the last reset

  void reset(uint64_t seed) { torch ? torch->reset(seed) : runtime->reset(seed); }
  void observe(const Observation& o) { torch ? torch->observe(o) : runtime->observe(o); }
  bool needs_chunk() const { return torch ? torch->needs_chunk() : runtime->needs_chunk(); }
  ActStep execute(std::optional<Chunk> c) { return torch ? torch->execute(std::move(c)) : runtime->execute(std::move(c)); }
  void assume_executed(const Chunk& c) { torch ? torch->assume_executed(c) : runtime->assume_executed(c); }
};

namespace {

using Clock = std::chrono::steady_clock;
double ms_between(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double, std::milli>(b - a).count(); }

}  // namespace

PolicyService::PolicyService(Policy policy, RunnerOptions run, ServiceOptions options)
    : policy_(std::move(policy)), run_(std::move(run)), options_(std::move(options)) {
  policy_->check_options(run_);
  spec_ = agent_spec(*policy_, run_);
  metadata_ = encode_json_frame(server_metadata(spec_, options_.keymap, options_.model, options_.control_hz,
                                                policy_->head()->has_log_prob()));
  start();
}

PolicyService::PolicyService(std::shared_ptr<const runtime::Model> model, RuntimeRunnerOptions run,
                             ServiceOptions options)
    : runtime_model_(std::move(model)), runtime_run_(std::move(run)), options_(std::move(options)) {
  spec_ = RuntimeRunner(runtime_model_, runtime_run_).spec();  // checks the options
  metadata_ = encode_json_frame(server_metadata(spec_, options_.keymap, options_.model, options_.control_hz, true));
  start();
}

void PolicyService::start() {
  require(options_.batch_window_ms >= 0 && options_.batch_window_ms <= 1000,
          "serve: the batch window must be in 0..1000 ms, got " + std::to_string(options_.batch_window_ms));
  require(options_.max_batch >= 1, "serve: the largest batch must be >= 1");
  require(options_.max_pending >= 1, "serve: max_pending must be >= 1");
  worker_ = std::thread([this] { work(); });
}

PolicyService::~PolicyService() { shutdown(); }

PolicyService::SessionId PolicyService::open() {
  auto session = policy_ ? std::make_shared<Session>(PolicyRunner(policy_, run_))
                         : std::make_shared<Session>(std::make_unique<RuntimeRunner>(runtime_model_, runtime_run_));
  std::lock_guard<std::mutex> lock(mu_);
  const SessionId id = next_id_++;
  sessions_[id] = std::move(session);
  return id;
}

void PolicyService::close(SessionId id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return;
  it->second->open = false;
  sessions_.erase(it);
}

void PolicyService::submit(SessionId id, std::string frame, Done done) {
  std::unique_lock<std::mutex> lock(mu_);
  ++stats_.requests;
  auto it = sessions_.find(id);
  std::string error;
  if (stopping_) error = "the server is shutting down; reconnect later";
  else if (it == sessions_.end()) error = "unknown or closed session";
  else if (it->second->pending >= options_.max_pending)
    error = "too many requests in flight on this connection (" + std::to_string(options_.max_pending) +
            "); wait for each reply before sending the next request";
  if (!error.empty()) {
    ++stats_.errors;
    lock.unlock();
    done({true, error});
    return;
  }
  ++it->second->pending;
  queue_.push_back({it->second, std::move(frame), std::move(done), Clock::now()});
  lock.unlock();
  cv_.notify_all();
}

void PolicyService::shutdown() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ && !worker_.joinable()) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (worker_.joinable()) worker_.join();
}

size_t PolicyService::sessions() const {
  std::lock_guard<std::mutex> lock(mu_);
  return sessions_.size();
}

size_t PolicyService::pending() const {
  std::lock_guard<std::mutex> lock(mu_);
  return queue_.size() + processing_;
}

ServiceStats PolicyService::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

void PolicyService::work() {
  torch::NoGradGuard no_grad;
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    cv_.wait(lock, [&] { return !queue_.empty() || stopping_; });
    if (queue_.empty()) return;  // stopping, and everything answered
    // Wait for company: until the window after the oldest frame closes, or every session that could join (all
    // open ones, at most max_batch) has a frame waiting; a lone client never waits.
    const auto deadline = queue_.front().arrival +
                          std::chrono::microseconds(int64_t(options_.batch_window_ms * 1000.0));
    auto distinct_sessions = [&] {
      std::vector<Session*> seen;
      for (const auto& j : queue_)
        if (std::find(seen.begin(), seen.end(), j.session.get()) == seen.end()) seen.push_back(j.session.get());
      return int64_t(seen.size());
    };
    cv_.wait_until(lock, deadline, [&] {
      return stopping_ || distinct_sessions() >= std::min<int64_t>(options_.max_batch, int64_t(sessions_.size()));
    });
    // Take at most one frame per session (a session's frames are answered in order) and max_batch in all.
    std::vector<Job> jobs;
    std::vector<Session*> taken;
    for (auto it = queue_.begin(); it != queue_.end() && int64_t(jobs.size()) < options_.max_batch;) {
      if (std::find(taken.begin(), taken.end(), it->session.get()) != taken.end()) {
        ++it;
        continue;
      }
      taken.push_back(it->session.get());
      jobs.push_back(std::move(*it));
      it = queue_.erase(it);
    }
    processing_ = jobs.size();
    lock.unlock();
    process(jobs);
    lock.lock();
    processing_ = 0;
    for (auto& j : jobs) --j.session->pending;
  }
}

void PolicyService::process(std::vector<Job>& jobs) {
  struct Planned {
    Job* job;
    bool step;
    ObservationBatch history;  // libtorch backend
  };
  std::vector<Planned> planned;
  auto fail = [&](Job& j, const std::string& message) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++stats_.errors;
    }
    j.done({true, message});
  };
  const std::string strategy = spec_.inference.value("strategy", std::string("sample"));
  for (auto& job : jobs) {
    Session& session = *job.session;
    try {
      auto handle = unpack_frame(job.frame.data(), job.frame.size(), options_.limits);
      Request req = decode_request(handle.get(), spec_, options_.keymap);
      if (req.kind == Request::Kind::kReset) {
        session.reset(req.seed);
        session.prev_total_ms = -1;
        session.chunks = 0;
        session.alarmed = false;
        job.done({false, encode_reset_reply(req.seed)});
        continue;
      }
      session.observe(req.obs);
      const bool step = req.kind == Request::Kind::kStep;
      if (step && !session.needs_chunk()) {  // served from the session's queue, no model pass
        const ActStep s = session.execute(std::nullopt);
        ReplyInfo info;
        info.planned = false;
        info.strategy = strategy;
        info.queue_ms = ms_between(job.arrival, Clock::now());
        info.prev_total_ms = session.prev_total_ms;
        job.done({false, encode_actions_reply(s.action.data(), 1, int64_t(s.action.size()), true, info)});
        session.prev_total_ms = ms_between(job.arrival, Clock::now());
        continue;
      }
      planned.push_back({&job, step, session.torch ? session.torch->history() : ObservationBatch{}});
    } catch (const std::exception& e) {  // ProtocolError, or the runner refusing the observation (nfp::Error)
      fail(job, e.what());
    }
  }
  if (planned.empty()) return;
  // The chunks: one batched pass (libtorch), or each session's own runtime pass.
  std::vector<Chunk> chunks(planned.size());
  std::vector<std::string> errors(planned.size());
  std::vector<double> infer_ms(planned.size());
  std::vector<Clock::time_point> starts(planned.size(), Clock::now());
  if (policy_) {
    std::vector<const ObservationBatch*> histories;
    std::vector<at::Generator> generators;
    for (const auto& p : planned) {
      histories.push_back(&p.history);
      generators.push_back(p.job->session->torch->generator());
    }
    try {
      chunks = policy_->predict_batch(histories, run_.inference, generators);
    } catch (const std::exception& e) {
      errors.assign(planned.size(), e.what());
    }
    infer_ms.assign(planned.size(), ms_between(starts[0], Clock::now()));
  } else {
    for (size_t i = 0; i < planned.size(); ++i) {
      starts[i] = Clock::now();
      try {
        chunks[i] = planned[i].job->session->runtime->plan();
      } catch (const std::exception& e) {
        errors[i] = e.what();
      }
      infer_ms[i] = ms_between(starts[i], Clock::now());
    }
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& e : errors) stats_.chunks += e.empty();
    stats_.batches += policy_ ? 1 : int64_t(planned.size());
    stats_.max_batch_seen = std::max(stats_.max_batch_seen, policy_ ? int64_t(planned.size()) : 1);
  }
  for (size_t i = 0; i < planned.size(); ++i) {
    Job& job = *planned[i].job;
    if (!errors[i].empty()) {
      fail(job, errors[i]);
      continue;
    }
    Session& session = *job.session;
    ReplyInfo info;
    info.log_prob = chunks[i].log_prob;
    info.strategy = strategy;
    info.infer_ms = infer_ms[i];
    info.queue_ms = ms_between(job.arrival, starts[i]);
    info.batch_size = policy_ ? int64_t(planned.size()) : 1;
    info.prev_total_ms = session.prev_total_ms;
    if (options_.monitor) {
      const double D = double(spec_.horizon * spec_.action_dim);
      const double score = options_.monitor->standardized(size_t(session.chunks), -chunks[i].log_prob / D);
      const bool alarm = score > options_.monitor->quantile;
      session.alarmed = session.alarmed || alarm;
      info.monitor = {{"score", std::isfinite(score) ? json(score) : json(nullptr)}, {"alarm", alarm},
                      {"chunk", session.chunks}, {"episode_alarm", session.alarmed}};
    }
    ++session.chunks;
    if (planned[i].step) {
      const ActStep s = session.execute(chunks[i]);
      job.done({false, encode_actions_reply(s.action.data(), 1, int64_t(s.action.size()), true, info)});
    } else {
      session.assume_executed(chunks[i]);
      auto a = chunks[i].actions.contiguous();
      job.done({false, encode_actions_reply(a.data_ptr<float>(), a.size(0), a.size(1), false, info)});
    }
    session.prev_total_ms = ms_between(job.arrival, Clock::now());
  }
}

}  // namespace nfp
