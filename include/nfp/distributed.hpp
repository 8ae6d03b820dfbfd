// Data-parallel training's process group: torch's c10d engine (a TCPStore rendezvous, Gloo collectives on CPU
// tensors) behind plain types, launched the way torchrun launches (its environment variables).
//   nfp::DistEnv env = nfp::dist_env_from_environment();       // RANK, WORLD_SIZE, ... or one process
//   nfp::ProcessGroup group(env);                                // every rank meets at MASTER_ADDR:MASTER_PORT
//   group.broadcast(params);                                     // rank 0's values everywhere
//   GradientReducer reducer(group, params);  loss.backward();  reducer.finish();   // the mean gradient everywhere
// Every collective is blocking and bounded by the group's timeout: a rank that died or hangs makes the others throw
// nfp::Error (one line naming this rank and what did not arrive) instead of waiting forever.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <torch/types.h>

namespace nfp {

struct DistEnv {
  int rank = 0, world_size = 1, local_rank = 0;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  bool distributed() const { return world_size > 1; }
};

// torchrun's variables: RANK, WORLD_SIZE, LOCAL_RANK (default RANK), MASTER_ADDR (default 127.0.0.1), MASTER_PORT
// (default 29500). Neither RANK nor WORLD_SIZE set: one process, rank 0 of 1. One without the other, a value that
// is not a whole number, a rank outside [0, WORLD_SIZE) or a port outside [1, 65535]: nfp::Error naming the variable.
DistEnv parse_dist_env(const std::function<const char*(const char*)>& lookup);
DistEnv dist_env_from_environment();  // parse_dist_env over std::getenv

class ProcessGroup {
 public:
  // Rank 0 serves the rendezvous store at master_addr:master_port; every rank then joins the Gloo group. Throws
  // nfp::Error when the other ranks have not joined within `timeout_s`, which also bounds every collective.
  explicit ProcessGroup(const DistEnv& env, double timeout_s = 300);
  ~ProcessGroup();
  ProcessGroup(const ProcessGroup&) = delete;
  ProcessGroup& operator=(const ProcessGroup&) = delete;

  int rank() const;
  int world_size() const;

  // In place: every tensor (CPU, any shape) takes rank `root`'s values.
  void broadcast(const std::vector<torch::Tensor>& tensors, int root = 0);
  // The element-wise sum over the ranks (metrics: losses, counts).
  std::vector<double> allreduce_sum(const std::vector<double>& values);
  void barrier();
  // Announces this rank's step in the rendezvous store (one small write), so that a collective that fails names the
  // ranks still behind it: "rank 1 is at step 36 (this rank: 37)" for a rank that hung or died.
  void mark_step(int64_t step);
  // Every rank compares its `tensors` with rank 0's (an exact checksum of their bit patterns: two small
  // collectives); where a rank differs, every rank throws nfp::Error "<what>: rank r's weights differ from rank 0's".
  void check_same_everywhere(const std::vector<torch::Tensor>& tensors, const std::string& what);
  // In place: `text` becomes rank `root`'s (a run's configuration, its statistics).
  void broadcast_string(std::string& text, int root = 0);

 private:
  friend class GradientReducer;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Data parallelism's gradient averaging, overlapped with the backward pass as torch's DDP reducer does it: the
// parameters are packed (in reverse order, roughly the order backward produces their gradients) into flat buckets
// of about `bucket_bytes`; an autograd hook on each parameter copies its gradient into its bucket, and a bucket's
// all-reduce starts as soon as it and every bucket before it are complete (the same order on every rank, as Gloo
// matches collectives by order). finish() waits for the rest and writes the mean into each parameter's .grad.
//   GradientReducer reducer(group, model->parameters());
//   loss.backward();                                   // all-reduces run while backward continues
//   auto sums = reducer.finish({loss_value, stop});    // mean gradients in .grad; metric sums in the same wait
// A parameter without a gradient on a rank contributes zeros; one without a gradient on every rank keeps an
// undefined .grad (as one process would leave it). Hooks are removed when the reducer is destroyed.
class GradientReducer {
 public:
  // 4 MiB buckets: the fastest of 1, 2, 4 and 32 MiB for 10.8 MB of gradients on loopback here (21.8, 17.1, 14.6,
  // 15.2 ms a step). float16 buckets (DDP's compression hook) halve the bytes but took 29 ms: Gloo's float16 sum is slow.
  GradientReducer(ProcessGroup& group, std::vector<torch::Tensor> params, int64_t bucket_bytes = int64_t(4) << 20);
  ~GradientReducer();
  GradientReducer(const GradientReducer&) = delete;
  GradientReducer& operator=(const GradientReducer&) = delete;

  // After loss.backward(): the mean gradient over the ranks in every parameter's .grad, and the element-wise sum
  // over the ranks of `metrics` (carried by the same wait, so a step needs no other collective).
  std::vector<double> finish(const std::vector<double>& metrics = {});

  int64_t buckets() const;
  int64_t bytes() const;         // gradient bytes all-reduced per step
  double wait_seconds() const;   // total time finish() has waited for collectives: what backward did not hide

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace nfp
