// Benchmark cells: collect once, train once, evaluate once, each resumable (see bench/bench_cell.hpp).
#include <chrono>
#include <ctime>

#include "bench_cell.hpp"
#include "nfp/atomic_file.hpp"
#include "nfp/checkpoint.hpp"
#include "nfp/device.hpp"
#include "nfp/error.hpp"
#include "nfp/evaluator.hpp"
#include "nfp/flow.hpp"
#include "nfp/hdf5_dataset.hpp"
#include "nfp/json_io.hpp"
#include "nfp/runtime_setup.hpp"
#include "nfp/sim_record.hpp"
#include "nfp/trainer.hpp"

namespace fs = std::filesystem;

namespace nfp::bench {

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Process CPU seconds: the figure that the machine's load does not inflate (training runs on one thread).
double cpu_seconds() { return double(std::clock()) / CLOCKS_PER_SEC; }

}  // namespace

fs::path ensure_demos(const fs::path& dir, const std::string& task, int episodes, uint64_t seed,
                      const sim::EnvOptions& env) {
  std::string name = task + "_" + std::to_string(episodes);
  if (env.images) {
    std::string cams;
    for (const auto& c : env.cameras) cams += (cams.empty() ? "" : "-") + c;
    name += "_" + (cams.empty() ? std::string("all") : cams) + "_" + std::to_string(env.image_size) + "px";
  }
  const fs::path path = dir / (name + ".hdf5");
  if (fs::exists(path)) return path;
  fs::create_directories(dir);
  sim::CollectOptions o;
  o.task = task;
  o.episodes = episodes;
  o.seed = seed;
  o.env = env;
  const auto r = sim::collect_demos(o);
  // HDF5 writes in place: write beside the final name and rename, so a cut-off collection is redone.
  const fs::path tmp = dir / (path.filename().string() + ".partial");
  write_robomimic(tmp, r.episodes, r.env_args);
  fs::rename(tmp, path);
  return path;
}

json train_cell(const CellTraining& spec, const fs::path& run) {
  const fs::path marker = run / "cell.json";
  if (fs::exists(marker)) return read_json_file(marker);
  fs::remove_all(run);  // an interrupted earlier attempt
  TrainRequest r;
  r.data = spec.data.string();
  r.out = run;
  r.policy = default_policy_config(spec.head);
  r.train = default_train_config(spec.head);
  if (!spec.policy.empty()) from_json(spec.policy, r.policy);  // partial: given keys (and head keys) only
  if (!spec.train.empty()) from_json(spec.train, r.train);
  r.policy.task = spec.task;
  r.train.threads = spec.threads;
  r.device = spec.device;
  r.progress = false;
  const auto t0 = std::chrono::steady_clock::now();
  const double c0 = cpu_seconds();
  const TrainResult res = train_policy(r);
  json cell = {{"head", spec.head},
               {"params", res.parameters},
               {"steps", res.steps},
               {"train_wall_s", seconds_since(t0)},
               {"train_cpu_s", cpu_seconds() - c0},
               {"train_loss", res.train_loss},
               {"valid_loss", res.valid_loss},
               {"policy", spec.policy},
               {"train", spec.train}};
  write_json_file(marker, cell);
  return cell;
}

json eval_cell(const fs::path& run, const CellEval& spec, const fs::path& out) {
  if (fs::exists(out)) return read_json_file(out);
  configure_threads(spec.threads);
  Policy policy = load_policy(run, resolve_device(spec.device));
  RunnerOptions options = policy->default_options();
  options.inference = spec.inference;
  policy->check_options(options);
  const auto& inf = options.inference;
  EvalOptions o;
  o.task = spec.task;
  o.episodes = spec.episodes;
  o.seed = spec.seed;
  o.progress = false;
  const auto t0 = std::chrono::steady_clock::now();
  const json info = evaluate_policy(policy, options, o);
  const auto& g = info["aggregated"];
  json r = {{"pc_success", g["pc_success"]},
            {"episodes", spec.episodes},
            {"seed", spec.seed},
            {"strategy", inf.strategy},
            {"sigma", inf.sigma < 0 ? policy->config().head.sigma : inf.sigma},
            {"chunk_p50_ms", g["chunk_latency_ms_p50"]},
            {"chunk_p99_ms", g["chunk_latency_ms_p99"]},
            {"mean_log_prob", g.value("mean_log_prob", json(nullptr))},
            {"eval_wall_s", seconds_since(t0)},
            {"params", count_parameters(*policy)}};
  fs::create_directories(out.parent_path());
  // the whole eval_info.json too, as `nfp eval` writes it (per episode; `nfp report` attaches it to the run), first:
  // the summary's presence is what marks the cell done
  json full = info;
  full["checkpoint"] = run.string();
  full["parameters"] = r["params"];
  fs::path full_path = out;
  full_path.replace_extension(".eval_info.json");
  write_json_file(full_path, full);
  write_json_file(out, r);
  return r;
}

}  // namespace nfp::bench
