// Data loader throughput benchmark (bench/loader_speed.cpp), run by `nfp bench loader`.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace nfp::bench {

struct LoaderSpeedOptions {
  int episodes = 20;               // synthetic robomimic dataset written to a temporary directory
  int frames = 150;                // per episode
  int image_size = 96;             // two cameras, image_size x image_size x 3 uint8
  int batch_size = 64;
  int history = 2, horizon = 16, stride = 1;  // Diffusion Policy / NF-P defaults
  std::vector<int> workers = {0, 1, 2};
  double seconds = 3.0;            // measuring time per configuration
  bool lazy = true;                // also measure with images read from disk
  double consumer_ms = 0;          // > 0: the consumer stands in for a trainer, busy this long per batch
};

// Windows per second for each (workers, images in memory / lazy) configuration; the consumer only takes
// batches, so this is the rate the loader can feed a trainer at.
// With consumer_ms > 0 it also reports how long the "trainer" waited for each batch (0 when prefetching
// keeps up). {"dataset": {...}, "results": [{"workers", "lazy", "windows_per_s", "batches_per_s",
// "ms_per_batch", "cpu_ms_per_batch", "wait_ms_per_batch"}...]}
nlohmann::json loader_speed(const LoaderSpeedOptions& options);

}  // namespace nfp::bench
