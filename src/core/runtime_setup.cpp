#include "nfp/runtime_setup.hpp"

#include <torch/torch.h>

#include <cstdlib>
#include <thread>

namespace nfp {

const char* threads_help() {
  return "torch threads (default 1: fastest for small nets on few cores; with more, idle threads sleep, not spin)";
}

void configure_threads(int threads) {
  // An explicit OMP_NUM_THREADS wins over the core count: on a shared machine, OpenMP threads that outnumber the
  // free cores spin at every barrier and a training step gets ~10x slower.
  if (threads <= 0) {
    const char* env = std::getenv("OMP_NUM_THREADS");
    if (env && std::atoi(env) > 0) threads = std::atoi(env);
  }
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  torch::set_num_threads(threads);
  static bool inter_set = false;  // torch allows setting inter-op threads once, before any parallel work
  if (!inter_set) {
    inter_set = true;
    try {
      torch::set_num_interop_threads(1);
    } catch (const c10::Error&) {
    }
  }
}

void seed_everything(uint64_t seed) { torch::manual_seed(seed); }

void set_deterministic(bool on) { at::globalContext().setDeterministicAlgorithms(on, /*warn_only=*/false); }

}  // namespace nfp
