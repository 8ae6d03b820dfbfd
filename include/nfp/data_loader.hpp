// Batches of training windows for the trainer: seeded shuffling, background prefetching on worker threads.
// Batches come out in a fixed order for a given seed and epoch,
// whatever the number of workers.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "nfp/window_dataset.hpp"

namespace nfp {

struct LoaderOptions {
  int64_t batch_size = 64;
  bool shuffle = true;
  uint64_t seed = 0;
  bool drop_last = true;     // a short last batch would change the loss scale
  int workers = 1;           // background threads building batches (0: build in next(), no threads)
  int prefetch = 4;          // batches built ahead of the consumer
  bool flat_actions = false; // actions (B x n*A) for MLP heads instead of (B x n x A)
  // Data-parallel training: this process is `rank` of `world_size`. Each global batch is world_size x batch_size
  // windows of the epoch's one shuffled order (the same on every rank); rank r takes its r-th slice, so the ranks'
  // batches are disjoint, together are what one process with world_size x batch_size would take, and every rank
  // has the same number per epoch (drop_last required).
  int rank = 0, world_size = 1;
};

class DataLoader {
 public:
  DataLoader(std::shared_ptr<const WindowDataset> dataset, LoaderOptions options);
  ~DataLoader();
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  // Starts epoch `epoch` (its shuffle order depends on seed and epoch only) and its workers.
  void start_epoch(int64_t epoch);
  // The next batch of the current epoch, or nullopt when the epoch is done. Rethrows a worker's error.
  std::optional<Batch> next();
  int64_t batches_per_epoch() const;
  const WindowDataset& dataset() const { return *dataset_; }

 private:
  Batch build(int64_t k) const;
  void stop_workers();
  void worker_loop();

  std::shared_ptr<const WindowDataset> dataset_;
  LoaderOptions options_;
  int64_t epoch_ = 0;
  std::vector<int64_t> order_;
  std::vector<std::thread> threads_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::map<int64_t, Batch> ready_;  // built batches by index
  std::exception_ptr error_;
  int64_t next_to_build_ = 0, next_to_return_ = 0;
  bool stopping_ = false;
};

}  // namespace nfp
