#include "nfp/data_loader.hpp"

#include <algorithm>
#include <numeric>
#include <random>

#include "nfp/error.hpp"

namespace nfp {

// The shuffle stream of an epoch, derived from (seed, epoch) only.
static uint64_t mix(uint64_t a, uint64_t b) {
  uint64_t x = a * 0x9E3779B97F4A7C15ull ^ (b + 0x632BE59BD9B4E019ull + (a << 6) + (a >> 2));
  x ^= x >> 31;
  x *= 0xBF58476D1CE4E5B9ull;
  return x ^ (x >> 29);
}

DataLoader::DataLoader(std::shared_ptr<const WindowDataset> dataset, LoaderOptions options)
    : dataset_(std::move(dataset)), options_(std::move(options)) {
  require(dataset_ != nullptr, "data loader: no dataset");
  require(options_.batch_size >= 1, "batch size must be >= 1");
  require(options_.prefetch >= 1, "prefetch must be >= 1");
  require(options_.world_size >= 1 && options_.rank >= 0 && options_.rank < options_.world_size,
          "data loader: rank " + std::to_string(options_.rank) + " is outside a world of " +
              std::to_string(options_.world_size));
  require(options_.world_size == 1 || options_.drop_last,
          "data loader: data-parallel ranks need drop_last (every rank the same number of full batches)");
  const int64_t global = options_.batch_size * options_.world_size;
  require(!options_.drop_last || dataset_->size() >= global,
          "batch size " + std::to_string(options_.batch_size) +
              (options_.world_size > 1 ? " x " + std::to_string(options_.world_size) + " ranks" : std::string()) +
              " exceeds the " + std::to_string(dataset_->size()) + " windows of the dataset; lower --batch-size");
}

DataLoader::~DataLoader() { stop_workers(); }

int64_t DataLoader::batches_per_epoch() const {
  const int64_t n = dataset_->size(), b = options_.batch_size * options_.world_size;
  return options_.drop_last ? n / b : (n + b - 1) / b;
}

void DataLoader::stop_workers() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

void DataLoader::start_epoch(int64_t epoch) {
  stop_workers();
  epoch_ = epoch;
  order_.resize(dataset_->size());
  std::iota(order_.begin(), order_.end(), 0);
  if (options_.shuffle) {
    // Fisher-Yates with our own draws: std::shuffle's sequence differs between standard libraries.
    std::mt19937_64 rng(mix(options_.seed, uint64_t(epoch)));
    for (int64_t i = int64_t(order_.size()) - 1; i > 0; --i) std::swap(order_[i], order_[rng() % uint64_t(i + 1)]);
  }
  ready_.clear();
  error_ = nullptr;
  next_to_build_ = next_to_return_ = 0;
  stopping_ = false;
  for (int w = 0; w < options_.workers; ++w) threads_.emplace_back([this] { worker_loop(); });
}

Batch DataLoader::build(int64_t k) const {
  const int64_t b = options_.batch_size;
  const int64_t begin = (k * options_.world_size + options_.rank) * b;
  const int64_t end = std::min<int64_t>(begin + b, int64_t(order_.size()));
  std::vector<int64_t> idx(order_.begin() + begin, order_.begin() + end);
  // the batch's random crops: a function of (seed, epoch, batch[, rank]) like its windows, so a resumed run draws
  // them again
  uint64_t crops = mix(mix(options_.seed, uint64_t(epoch_)), uint64_t(k));
  if (options_.world_size > 1) crops = mix(crops, uint64_t(options_.rank));
  return dataset_->make_batch(idx, options_.flat_actions, crops);
}

void DataLoader::worker_loop() {
  const int64_t total = batches_per_epoch();
  while (true) {
    int64_t k;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      cv_.wait(lock, [&] {
        return stopping_ || next_to_build_ >= total || next_to_build_ < next_to_return_ + options_.prefetch;
      });
      if (stopping_ || next_to_build_ >= total) return;
      k = next_to_build_++;
    }
    try {
      Batch batch = build(k);
      std::lock_guard<std::mutex> lock(mutex_);
      ready_.emplace(k, std::move(batch));
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!error_) error_ = std::current_exception();
    }
    cv_.notify_all();
  }
}

std::optional<Batch> DataLoader::next() {
  if (order_.empty() && dataset_->size() > 0) start_epoch(epoch_);
  if (next_to_return_ >= batches_per_epoch()) return std::nullopt;
  if (threads_.empty()) return build(next_to_return_++);
  std::unique_lock<std::mutex> lock(mutex_);
  cv_.wait(lock, [&] { return error_ || ready_.count(next_to_return_) > 0; });
  if (error_) std::rethrow_exception(error_);
  Batch batch = std::move(ready_.at(next_to_return_));
  ready_.erase(next_to_return_++);
  lock.unlock();
  cv_.notify_all();
  return batch;
}

}  // namespace nfp
