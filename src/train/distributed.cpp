// The process group of nfp/distributed.hpp on c10d: TCPStore (rank 0 serves it) and ProcessGroupGloo over the
// interface that reaches MASTER_ADDR. c10d's own errors are long and multi-line; each is turned into one line that
// says which rank, which step and what to check.
#include "nfp/distributed.hpp"

#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <chrono>
#include <cstdlib>
#include <limits>

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

  std::string who() const {
    return "distributed: rank " + std::to_string(env.rank) + " of " + std::to_string(env.world_size);
  }
  // Runs one collective and waits for it; a c10d failure (a peer closed, the timeout) becomes one line.
  void run(const char* what, const std::function<c10::intrusive_ptr<c10d::Work>()>& start) const {
    try {
      start()->wait(timeout);
    } catch (const std::exception& e) {
      throw Error(who() + ": " + what + " failed (another rank died, hung or left; each stops within " +
                  std::to_string(timeout.count() / 1000) + " s): " + first_line(e.what()));
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

void ProcessGroup::allreduce_mean(const std::vector<torch::Tensor>& tensors, int64_t bucket_bytes) {
  torch::NoGradGuard no_grad;
  const double n = double(world_size());
  size_t i = 0;
  while (i < tensors.size()) {
    // the bucket: tensors i..j-1 of one dtype, about bucket_bytes together (at least one)
    std::vector<torch::Tensor> bucket;
    int64_t bytes = 0;
    size_t j = i;
    for (; j < tensors.size(); ++j) {
      const auto& t = tensors[j];
      if (!t.defined()) continue;
      if (!bucket.empty() && (t.scalar_type() != bucket[0].scalar_type() || bytes + int64_t(t.nbytes()) > bucket_bytes)) break;
      bucket.push_back(t);
      bytes += int64_t(t.nbytes());
    }
    i = j;
    if (bucket.empty()) continue;
    std::vector<at::Tensor> flat;
    if (bucket.size() == 1 && bucket[0].is_contiguous()) {
      flat = {bucket[0]};
    } else {
      std::vector<torch::Tensor> parts;
      for (const auto& t : bucket) parts.push_back(t.reshape(-1));
      flat = {torch::cat(parts)};
    }
    impl_->run("gradient all-reduce", [&] { return impl_->pg->allreduce(flat); });
    flat[0].div_(n);
    if (!flat[0].is_same(bucket[0])) {
      int64_t offset = 0;
      for (auto& t : bucket) {
        t.copy_(flat[0].narrow(0, offset, t.numel()).view(t.sizes()));
        offset += t.numel();
      }
    }
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

}  // namespace nfp
