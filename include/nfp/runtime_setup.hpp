// Process-wide settings: threads and seeds.
#pragma once
#include <cstdint>

namespace nfp {

// Sets torch's intra-op threads (and OpenMP/BLAS, which share its pool) to `threads`, or when threads <= 0 to
// $OMP_NUM_THREADS if set, else the number of cores, and inter-op threads to 1, so torch and BLAS never oversubscribe the cores.
void configure_threads(int threads = 0);

// Seeds torch's default generator (and thereby every sampling op that takes no explicit generator).
void seed_everything(uint64_t seed);

// Deterministic algorithms on/off (bit-for-bit resume, tests).
void set_deterministic(bool on);

}  // namespace nfp
