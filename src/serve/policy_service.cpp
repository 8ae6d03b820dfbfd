// Sessions and dynamic batching: one worker thread decodes the frames that arrived together, plans all the chunks
// they need in one batched pass, and answers each from its session's runner.
#include "nfp/policy_service.hpp"

#include <algorithm>
#include <chrono>

namespace nfp {

struct PolicyService::Session {
  explicit Session(PolicyRunner r) : runner(std::move(r)) {}
  PolicyRunner runner;     // touched by the worker thread only
  bool open = true;        // guarded by mu_
  int64_t pending = 0;     // frames queued, guarded by mu_
  double prev_total_ms = -1;  // worker thread only
};

namespace {

using Clock = std::chrono::steady_clock;
double ms_between(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double, std::milli>(b - a).count(); }

}  // namespace

PolicyService::PolicyService(Policy policy, RunnerOptions run, ServiceOptions options)
    : policy_(std::move(policy)), run_(std::move(run)), options_(std::move(options)) {
  policy_->check_options(run_);
  require(options_.batch_window_ms >= 0 && options_.batch_window_ms <= 1000,
          "serve: the batch window must be in 0..1000 ms, got " + std::to_string(options_.batch_window_ms));
  require(options_.max_batch >= 1, "serve: the largest batch must be >= 1");
  require(options_.max_pending >= 1, "serve: max_pending must be >= 1");
  spec_ = agent_spec(*policy_, run_);
  metadata_ = encode_json_frame(server_metadata(spec_, options_.keymap, options_.model, options_.control_hz,
                                                policy_->head()->has_log_prob()));
  worker_ = std::thread([this] { work(); });
}

PolicyService::~PolicyService() { shutdown(); }

PolicyService::SessionId PolicyService::open() {
  auto session = std::make_shared<Session>(PolicyRunner(policy_, run_));
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
    ObservationBatch history;
  };
  std::vector<Planned> planned;
  auto fail = [&](Job& j, const std::string& message) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++stats_.errors;
    }
    j.done({true, message});
  };
  const std::string& strategy = run_.inference.strategy;
  for (auto& job : jobs) {
    auto& runner = job.session->runner;
    try {
      auto handle = unpack_frame(job.frame.data(), job.frame.size(), options_.limits);
      Request req = decode_request(handle.get(), spec_, options_.keymap);
      if (req.kind == Request::Kind::kReset) {
        runner.reset(req.seed);
        job.session->prev_total_ms = -1;
        job.done({false, encode_reset_reply(req.seed)});
        continue;
      }
      runner.observe(req.obs);
      const bool step = req.kind == Request::Kind::kStep;
      if (step && !runner.needs_chunk()) {  // served from the session's queue, no model pass
        const ActStep s = runner.execute(std::nullopt);
        ReplyInfo info;
        info.planned = false;
        info.strategy = strategy;
        info.queue_ms = ms_between(job.arrival, Clock::now());
        info.prev_total_ms = job.session->prev_total_ms;
        job.done({false, encode_actions_reply(s.action.data(), 1, int64_t(s.action.size()), true, info)});
        job.session->prev_total_ms = ms_between(job.arrival, Clock::now());
        continue;
      }
      planned.push_back({&job, step, runner.history()});
    } catch (const std::exception& e) {  // ProtocolError, or the runner refusing the observation (nfp::Error)
      fail(job, e.what());
    }
  }
  if (!planned.empty()) {
    std::vector<const ObservationBatch*> histories;
    std::vector<at::Generator> generators;
    for (const auto& p : planned) {
      histories.push_back(&p.history);
      generators.push_back(p.job->session->runner.generator());
    }
    const auto start = Clock::now();
    std::vector<Chunk> chunks;
    std::string error;
    try {
      chunks = policy_->predict_batch(histories, run_.inference, generators);
    } catch (const std::exception& e) {
      error = e.what();
    }
    const double infer_ms = ms_between(start, Clock::now());
    if (error.empty()) {
      std::lock_guard<std::mutex> lock(mu_);
      ++stats_.batches;
      stats_.chunks += int64_t(planned.size());
      stats_.max_batch_seen = std::max(stats_.max_batch_seen, int64_t(planned.size()));
    }
    for (size_t i = 0; i < planned.size(); ++i) {
      Job& job = *planned[i].job;
      if (!error.empty()) {
        fail(job, error);
        continue;
      }
      auto& runner = job.session->runner;
      ReplyInfo info;
      info.log_prob = chunks[i].log_prob;
      info.strategy = strategy;
      info.infer_ms = infer_ms;
      info.queue_ms = ms_between(job.arrival, start);
      info.batch_size = int64_t(planned.size());
      info.prev_total_ms = job.session->prev_total_ms;
      if (planned[i].step) {
        const ActStep s = runner.execute(chunks[i]);
        job.done({false, encode_actions_reply(s.action.data(), 1, int64_t(s.action.size()), true, info)});
      } else {
        runner.assume_executed(chunks[i]);
        auto a = chunks[i].actions.contiguous();
        job.done({false, encode_actions_reply(a.data_ptr<float>(), a.size(0), a.size(1), false, info)});
      }
      job.session->prev_total_ms = ms_between(job.arrival, Clock::now());
    }
  }
}

}  // namespace nfp
