#include <unistd.h>

#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <random>

#include "bench_loader.hpp"
#include "nfp/data_loader.hpp"

namespace nfp::bench {

namespace {

using Clock = std::chrono::steady_clock;

// A robomimic file like a two-camera manipulation task: 7-D actions, 9-D state, noise images (incompressible,
// so nothing gets faster than real data would).
std::filesystem::path write_dataset(const LoaderSpeedOptions& o, const std::filesystem::path& dir) {
  std::mt19937 rng(0);
  std::normal_distribution<float> normal;
  const int64_t T = o.frames, S = o.image_size;
  std::vector<Episode> eps;
  for (int i = 0; i < o.episodes; ++i) {
    Episode e;
    e.actions = {{T, 7}, std::vector<float>(T * 7)};
    for (auto& v : e.actions.data) v = normal(rng);
    e.obs["robot0_state"] = {{T, 9}, std::vector<float>(T * 9)};
    for (auto& v : e.obs["robot0_state"].data) v = normal(rng);
    for (const char* cam : {"agentview_image", "robot0_eye_in_hand_image"}) {
      Array<uint8_t>& im = e.images[cam];
      im.shape = {T, S, S, 3};
      im.data.resize(T * S * S * 3);
      for (size_t k = 0; k + 4 <= im.data.size(); k += 4) {  // 4 bytes per draw: generation stays cheap
        const uint32_t r = rng();
        std::memcpy(im.data.data() + k, &r, 4);
      }
    }
    eps.push_back(std::move(e));
  }
  const auto path = dir / "loader_bench.hdf5";
  write_robomimic(path, eps, {{"env_name", "bench"}});
  return path;
}

double thread_cpu_ms() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

}  // namespace

nlohmann::json loader_speed(const LoaderSpeedOptions& o) {
  const auto dir = std::filesystem::temp_directory_path() / ("nfp-loader-bench-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  nlohmann::json out;
  try {
    const auto path = write_dataset(o, dir);
    out["dataset"] = {{"episodes", o.episodes},       {"frames", int64_t(o.episodes) * o.frames},
                      {"cameras", 2},                 {"image_size", o.image_size},
                      {"batch_size", o.batch_size},   {"history", o.history},
                      {"horizon", o.horizon},
                      {"consumer_ms", o.consumer_ms},
                      {"file_mb", std::filesystem::file_size(path) / 1e6}};
    out["results"] = nlohmann::json::array();
    std::vector<bool> modes = {false};
    if (o.lazy) modes.push_back(true);
    for (bool lazy : modes) {
      StoreOptions so;
      if (lazy) so.image_memory_budget = 0;
      auto store = std::make_shared<EpisodeStore>(open_episode_store(path.string(), so));
      auto ds = std::make_shared<WindowDataset>(store, WindowSpec{o.history, o.horizon, o.stride},
                                                compute_normalizer(*store));
      for (int workers : o.workers) {
        LoaderOptions lo;
        lo.batch_size = o.batch_size;
        lo.workers = workers;
        DataLoader loader(ds, lo);
        int64_t epoch = 0, batches = 0;
        loader.start_epoch(epoch);
        for (int i = 0; i < 2; ++i) loader.next();  // warm up: threads started, queue filled
        const auto start = Clock::now();
        const std::clock_t cpu_start = std::clock();
        double elapsed = 0, waited = 0;
        while (elapsed < o.seconds) {
          const auto ask = Clock::now();
          auto b = loader.next();
          waited += std::chrono::duration<double>(Clock::now() - ask).count();
          if (!b) {
            loader.start_epoch(++epoch);
            continue;
          }
          ++batches;
          // A stand-in for a training step: consumer_ms of this thread's CPU time (not wall time, so that the
          // loader's CPU cost below is exact even when the threads share cores).
          const double busy_until = thread_cpu_ms() + o.consumer_ms;
          while (thread_cpu_ms() < busy_until) {
          }
          elapsed = std::chrono::duration<double>(Clock::now() - start).count();
        }
        // CPU time of the process per batch, less the stand-in trainer's: the loader's cost, whatever else
        // runs on the machine.
        const double cpu_s = double(std::clock() - cpu_start) / CLOCKS_PER_SEC - batches * o.consumer_ms / 1000.0;
        out["results"].push_back({{"workers", workers},
                                  {"cpu_ms_per_batch", 1000.0 * cpu_s / batches},
                                  {"lazy", lazy},
                                  {"windows_per_s", batches * o.batch_size / elapsed},
                                  {"batches_per_s", batches / elapsed},
                                  {"ms_per_batch", 1000.0 * elapsed / batches},
                                  {"wait_ms_per_batch", 1000.0 * waited / batches}});
      }
    }
  } catch (...) {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
    throw;
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return out;
}

}  // namespace nfp::bench
