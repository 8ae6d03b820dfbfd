// The process group of nfp/distributed.hpp on c10d: TCPStore (rank 0 serves it) and ProcessGroupGloo over the
// interface that reaches MASTER_ADDR. c10d's own errors are long and multi-line; each is turned into one line that
// says which rank, which step and what to check.
#include "nfp/distributed.hpp"

#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <chrono>
#include <cstdlib>
#include <cstring>

#include "nfp/error.hpp"

namespace nfp {
namespace {

int whole_variable(const char* name, const char* text, long lo, long hi) {
  const std::string s = text;
  char* end = nullptr;
  errno = 0;
  const long v = std::strtol(s.c_str(), &end, 10);
  require(!s.empty() && end == s.c_str() + s.size() && errno == 0 && v >= lo && v <= hi,
          std::string(name) + "=" + truncate_for_message(s) + " is not a whole number in [" + std::to_string(lo) + ", " +
              std::to_string(hi) + "]; set it as torchrun does (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT)");
  return int(v);
}

std::string first_line(const std::string& s) {
  const auto nl = s.find('\n');
  return truncate_for_message(nl == std::string::npos ? s : s.substr(0, nl), 200);
}

}  // namespace

DistEnv parse_dist_env(const std::function<const char*(const char*)>& lookup) {
  DistEnv e;
  const char* rank = lookup("RANK");
  const char* world = lookup("WORLD_SIZE");
  if (!rank && !world) return e;
  require(rank && world, std::string(rank ? "RANK" : "WORLD_SIZE") + " is set but " + (rank ? "WORLD_SIZE" : "RANK") +
                             " is not; a distributed run needs both (as torchrun sets them), a single process neither");
  e.world_size = whole_variable("WORLD_SIZE", world, 1, 65536);
  e.rank = whole_variable("RANK", rank, 0, e.world_size - 1);
  e.local_rank = lookup("LOCAL_RANK") ? whole_variable("LOCAL_RANK", lookup("LOCAL_RANK"), 0, 65535) : e.rank;
  if (const char* a = lookup("MASTER_ADDR")) {
    require(*a != '\0', "MASTER_ADDR is empty; give the host of rank 0 (127.0.0.1 on one machine)");
    e.master_addr = a;
  }
  if (const char* p = lookup("MASTER_PORT")) e.master_port = whole_variable("MASTER_PORT", p, 1, 65535);
  return e;
}

DistEnv dist_env_from_environment() {
  return parse_dist_env([](const char* name) { return static_cast<const char*>(std::getenv(name)); });
}

struct ProcessGroup::Impl {
  DistEnv env;
  std::chrono::milliseconds timeout{0};
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> pg;

  int64_t step = -1;  // the last step this rank announced (mark_step)

  std::string who() const {
    return "distributed: rank " + std::to_string(env.rank) + " of " + std::to_string(env.world_size);
  }

  // Which rank is behind: each rank's last announced step, read from the store with a short timeout (the store
  // lives in rank 0's process, so nothing is said when rank 0 is the one that went away).
  std::string laggard() const {
    if (step < 0) return "";
    try {
      store->setTimeout(std::chrono::seconds(2));
      std::string behind;
      for (int r = 0; r < env.world_size; ++r) {
        if (r == env.rank) continue;
        const std::string key = "nfp/step/" + std::to_string(r);
        std::string where;
        if (!store->check({key})) {
          where = "never reached a step";
        } else {
          const auto bytes = store->get(key);
          const int64_t at = std::stoll(std::string(bytes.begin(), bytes.end()));
          if (at < step) where = "is at step " + std::to_string(at);
        }
        if (!where.empty()) behind += (behind.empty() ? "rank " : ", rank ") + std::to_string(r) + " " + where;
      }
      return behind.empty() ? "" : "; " + behind + " (this rank: " + std::to_string(step) + ")";
    } catch (const std::exception&) {
      return "";
    }
  }
  // Runs one collective and waits for it; a c10d failure (a peer closed, the timeout) becomes one line.
  void run(const char* what, const std::function<c10::intrusive_ptr<c10d::Work>()>& start) const {
    try {
      start()->wait(timeout);
    } catch (const std::exception& e) {
      const std::string peer = env.world_size == 2 ? "rank " + std::to_string(1 - env.rank) : "another rank";
      throw Error(who() + ": " + what + " failed (" + peer + " died, hung or left; each stops within " +
                  std::to_string(timeout.count() / 1000) + " s" + laggard() + "): " + first_line(e.what()));
    }
  }
};

ProcessGroup::ProcessGroup(const DistEnv& env, double timeout_s) : impl_(std::make_unique<Impl>()) {
  auto& d = *impl_;
  require(env.world_size >= 1 && env.rank >= 0 && env.rank < env.world_size,
          "distributed: rank " + std::to_string(env.rank) + " is outside a world of " + std::to_string(env.world_size));
  require(timeout_s > 0 && timeout_s < 1e6, "distributed: the timeout must be positive");
  d.env = env;
  d.timeout = std::chrono::milliseconds(int64_t(timeout_s * 1000));
  const std::string where = env.master_addr + ":" + std::to_string(env.master_port);
  try {
    c10d::TCPStoreOptions so;
    so.port = uint16_t(env.master_port);
    so.isServer = env.rank == 0;
    so.numWorkers = env.world_size;
    so.waitWorkers = false;
    so.timeout = d.timeout;
    d.store = c10::make_intrusive<c10d::TCPStore>(env.master_addr, so);
  } catch (const std::exception& e) {
    throw Error(d.who() + ": " + (env.rank == 0 ? "cannot serve the rendezvous at " : "cannot reach rank 0 at ") +
                where + " within " + std::to_string(int64_t(timeout_s)) + " s (" + first_line(e.what()) +
                "); check MASTER_ADDR / MASTER_PORT and that rank 0 runs");
  }
  try {
    auto options = c10d::ProcessGroupGloo::Options::create();
    options->timeout = d.timeout;
    options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname(env.master_addr));
    d.pg = c10::make_intrusive<c10d::ProcessGroupGloo>(d.store, env.rank, env.world_size, options);
  } catch (const std::exception& e) {
    throw Error(d.who() + ": the other ranks did not join at " + where + " within " + std::to_string(int64_t(timeout_s)) +
                " s (" + first_line(e.what()) + "); start all WORLD_SIZE ranks with the same MASTER_ADDR / MASTER_PORT");
  }
}

ProcessGroup::~ProcessGroup() = default;

int ProcessGroup::rank() const { return impl_->env.rank; }
int ProcessGroup::world_size() const { return impl_->env.world_size; }

void ProcessGroup::broadcast(const std::vector<torch::Tensor>& tensors, int root) {
  require(root >= 0 && root < world_size(), "distributed: broadcast from rank " + std::to_string(root) + " of " +
                                                std::to_string(world_size()));
  for (const auto& t : tensors) {
    if (!t.defined()) continue;
    // Gloo needs a dense contiguous tensor; a non-contiguous view goes through a copy
    torch::NoGradGuard no_grad;
    std::vector<at::Tensor> one{t.is_contiguous() ? t : t.contiguous()};
    c10d::BroadcastOptions o;
    o.rootRank = root;
    impl_->run("broadcast", [&] { return impl_->pg->broadcast(one, o); });
    if (!one[0].is_same(t)) t.copy_(one[0]);
  }
}

std::vector<double> ProcessGroup::allreduce_sum(const std::vector<double>& values) {
  if (values.empty()) return {};
  std::vector<at::Tensor> t{torch::tensor(values, torch::kFloat64)};
  impl_->run("metric all-reduce", [&] { return impl_->pg->allreduce(t); });
  return std::vector<double>(t[0].data_ptr<double>(), t[0].data_ptr<double>() + t[0].numel());
}

void ProcessGroup::barrier() {
  impl_->run("barrier", [&] { return impl_->pg->barrier(); });
}

void ProcessGroup::mark_step(int64_t step) {
  impl_->step = step;
  const std::string v = std::to_string(step);
  try {
    impl_->store->set("nfp/step/" + std::to_string(rank()), std::vector<uint8_t>(v.begin(), v.end()));
  } catch (const std::exception& e) {
    throw Error(impl_->who() + ": the rendezvous store went away at step " + v +
                " (rank 0 died or left): " + first_line(e.what()));
  }
}

namespace {

// The bit patterns of `tensors` summed as integers, modulo 2^52 so that a double holds it exactly: identical
// tensors give identical sums.
int64_t bits_checksum(const std::vector<torch::Tensor>& tensors) {
  torch::NoGradGuard ng;
  int64_t sum = 0;
  for (const auto& t : tensors) {
    if (!t.defined()) continue;
    const auto c = t.detach().to(torch::kCPU).contiguous();
    const auto bits = c.element_size() == 4 ? c.view(torch::kInt32) : c.to(torch::kFloat64).view(torch::kInt64);
    sum += bits.sum(torch::kInt64).item<int64_t>();
  }
  return sum & ((int64_t(1) << 52) - 1);
}

}  // namespace

void ProcessGroup::check_same_everywhere(const std::vector<torch::Tensor>& tensors, const std::string& what) {
  const int64_t mine = bits_checksum(tensors);
  auto lead = torch::tensor({mine}, torch::kInt64);
  broadcast({lead});
  std::vector<double> differs(size_t(world_size()), 0.0);
  differs[size_t(rank())] = lead.item<int64_t>() == mine ? 0.0 : 1.0;
  differs = allreduce_sum(differs);
  for (int r = 1; r < world_size(); ++r)
    require(differs[size_t(r)] == 0, "distributed: " + what + ": rank " + std::to_string(r) +
                                         "'s weights differ from rank 0's (did a rank run with other settings, e.g. "
                                         "another --lr?)");
}

void ProcessGroup::broadcast_string(std::string& text, int root) {
  auto size = torch::tensor({int64_t(text.size())}, torch::kInt64);
  broadcast({size}, root);
  auto bytes = torch::zeros({size.item<int64_t>()}, torch::kUInt8);
  if (rank() == root) std::memcpy(bytes.data_ptr<uint8_t>(), text.data(), text.size());
  broadcast({bytes}, root);
  text.assign(reinterpret_cast<const char*>(bytes.data_ptr<uint8_t>()), size_t(bytes.numel()));
}

struct GradientReducer::Impl {
  ProcessGroup::Impl* group = nullptr;
  struct Slot {
    torch::Tensor param;
    size_t bucket = 0;
    int64_t offset = 0;
    bool ready = false;  // this backward's gradient is in the bucket
    unsigned hook = 0;
  };
  struct Bucket {
    torch::Tensor flat;   // the gradients of its slots, back to back
    std::vector<size_t> slots;
    size_t pending = 0;   // slots not yet ready in this backward
    c10::intrusive_ptr<c10d::Work> work;
  };
  std::vector<Slot> slots;
  std::vector<Bucket> buckets;
  size_t next_launch = 0;  // buckets start in index order on every rank
  int64_t bytes = 0;
  double wait_s = 0;

  void launch_ready() {
    while (next_launch < buckets.size() && buckets[next_launch].pending == 0) {
      Bucket& b = buckets[next_launch++];
      std::vector<at::Tensor> one{b.flat};
      b.work = group->pg->allreduce(one);
    }
  }
  void on_gradient(size_t i, const torch::Tensor& grad) {
    Slot& s = slots[i];
    // A second gradient for a parameter in one backward (a second backward before finish()) would race with a
    // running all-reduce of its bucket: a programming error, said loudly.
    require(!s.ready, "distributed: two backward passes before GradientReducer::finish(); call finish() once after "
                      "each backward");
    Bucket& b = buckets[s.bucket];
    torch::NoGradGuard no_grad;
    b.flat.narrow(0, s.offset, s.param.numel()).copy_(grad.reshape(-1));
    s.ready = true;
    --b.pending;
    launch_ready();
  }
};

GradientReducer::GradientReducer(ProcessGroup& group, std::vector<torch::Tensor> params, int64_t bucket_bytes)
    : impl_(std::make_unique<Impl>()) {
  auto& d = *impl_;
  d.group = group.impl_.get();
  // Reverse registration order: backward reaches the last layers' parameters first.
  for (auto it = params.rbegin(); it != params.rend(); ++it) {
    const torch::Tensor& p = *it;
    if (!p.defined() || !p.requires_grad()) continue;
    require(p.device().is_cpu(), "distributed: gradients are all-reduced with Gloo on the CPU in this build");
    const bool fits = !d.buckets.empty() && d.buckets.back().flat.scalar_type() == p.scalar_type() &&
                      (d.buckets.back().flat.numel() + p.numel()) * int64_t(p.element_size()) <= bucket_bytes;
    if (!fits) d.buckets.push_back({torch::empty({0}, p.options().requires_grad(false)), {}, 0, {}});
    Impl::Bucket& b = d.buckets.back();
    d.slots.push_back({p, d.buckets.size() - 1, b.flat.numel(), false, 0});
    b.slots.push_back(d.slots.size() - 1);
    b.flat = torch::empty({b.flat.numel() + p.numel()}, b.flat.options());
    d.bytes += int64_t(p.nbytes());
  }
  for (auto& b : d.buckets) b.pending = b.slots.size();
  Impl* self = impl_.get();
  for (size_t i = 0; i < d.slots.size(); ++i)
    d.slots[i].hook = d.slots[i].param.register_hook([self, i](const torch::Tensor& g) { self->on_gradient(i, g); });
}

GradientReducer::~GradientReducer() {
  for (auto& s : impl_->slots) s.param.remove_hook(s.hook);
  for (auto& b : impl_->buckets)  // a collective still running (an error unwound the step) owns the buffers
    if (b.work) try { b.work->wait(impl_->group->timeout); } catch (...) {}
}

std::vector<double> GradientReducer::finish(const std::vector<double>& metrics) {
  auto& d = *impl_;
  const auto t0 = std::chrono::steady_clock::now();
  torch::NoGradGuard no_grad;
  // Parameters that got no gradient on this rank (unused by this batch) contribute zeros.
  for (auto& s : d.slots) {
    if (s.ready) continue;
    Impl::Bucket& b = d.buckets[s.bucket];
    b.flat.narrow(0, s.offset, s.param.numel()).zero_();
    s.ready = true;
    --b.pending;
  }
  d.launch_ready();
  std::vector<at::Tensor> sums{torch::tensor(metrics.empty() ? std::vector<double>{0.0} : metrics, torch::kFloat64)};
  auto metric_work = d.group->pg->allreduce(sums);
  const double n = double(d.group->env.world_size);
  for (auto& b : d.buckets) {
    d.group->run("gradient all-reduce", [&] { return b.work; });
    b.work.reset();
    b.flat.div_(n);
    for (size_t i : b.slots) {
      Impl::Slot& s = d.slots[i];
      auto mean = b.flat.narrow(0, s.offset, s.param.numel()).view(s.param.sizes());
      if (s.param.grad().defined())
        s.param.mutable_grad().copy_(mean);
      else if (mean.ne(0).any().item<bool>())  // used on another rank: this rank's update uses it too
        s.param.mutable_grad() = mean.clone();
      s.ready = false;
    }
    b.pending = b.slots.size();
  }
  d.next_launch = 0;
  d.group->run("metric all-reduce", [&] { return metric_work; });
  d.wait_s += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (metrics.empty()) return {};
  return std::vector<double>(sums[0].data_ptr<double>(), sums[0].data_ptr<double>() + sums[0].numel());
}

int64_t GradientReducer::buckets() const { return int64_t(impl_->buckets.size()); }
int64_t GradientReducer::bytes() const { return impl_->bytes; }
double GradientReducer::wait_seconds() const { return impl_->wait_s; }

}  // namespace nfp
