// Process-wide settings: threads and seeds.
#pragma once
#include <cstdint>

namespace nfp {

// The one default for every command's --threads (nfp train/eval/tune/bench/density, TrainConfig): one torch
// thread. These nets are small; on a few shared cores extra threads mostly wait for each other. With more than
// one, `nfp` makes OpenMP's idle threads sleep rather than spin (apps/nfp/main.cpp).
constexpr int kDefaultThreads = 1;
// The --threads help text every command shows (states the default above).
const char* threads_help();

// Sets torch's intra-op threads (and OpenMP/BLAS, which share its pool) to `threads`, or when threads <= 0 to
// $OMP_NUM_THREADS if set, else the number of cores, and inter-op threads to 1, so torch and BLAS never oversubscribe the cores.
void configure_threads(int threads = 0);

// Seeds torch's default generator (and thereby every sampling op that takes no explicit generator).
void seed_everything(uint64_t seed);

// Deterministic algorithms on/off (bit-for-bit resume, tests).
void set_deterministic(bool on);

}  // namespace nfp
