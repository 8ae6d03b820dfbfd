// `nfp bench train`: each layout is the real command (`nfp train --nproc R --threads T`), its speed read from the
// run's own metrics.csv between its first and its last-but-one logged step (start-up, the first steps and the final
// validation + checkpoint are not timed) and its all-reduce wait from the --json line.
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>

#include "bench_train.hpp"
#include "machine_load.hpp"
#include "nfp/atomic_file.hpp"
#include "nfp/error.hpp"
#include "nfp/evaluator.hpp"
#include "nfp/progress.hpp"
#include "report/report_inputs.hpp"

extern char** environ;

namespace nfp::bench {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// Runs argv with stdout and stderr into `log`; the exit status (128 + signal when killed).
int run_to_log(const std::vector<std::string>& argv, const fs::path& log) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&fa, STDOUT_FILENO, STDERR_FILENO);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, argv[0].c_str(), &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  require(rc == 0, "bench train: cannot run " + argv[0]);
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

std::string last_line(const std::string& text) {
  std::string s = text;
  while (!s.empty() && s.back() == '\n') s.pop_back();
  return s.substr(s.rfind('\n') == std::string::npos ? 0 : s.rfind('\n') + 1);
}

double median(const std::vector<double>& v) { return percentile(v, 50); }

struct Layout {
  int ranks, threads;
};

}  // namespace

nlohmann::json train_speed(const TrainSpeedOptions& o) {
  require(!o.nfp.empty() && !o.heads.empty() && !o.nproc.empty(), "bench train: nothing to run");
  require(o.steps >= 3 * o.log_every, "bench train: --steps must be at least 3 x the logging interval (" +
                                          std::to_string(3 * o.log_every) + ") so that some steps are timed");
  const bool keep = !o.workdir.empty();
  const fs::path dir = keep ? fs::path(o.workdir) : fs::temp_directory_path() / ("nfp-bench-train-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  nlohmann::json out;
  try {
    std::string data = o.data;
    if (data.empty()) {
      data = (dir / "demos.hdf5").string();
      if (!fs::exists(data)) {
        const int st = run_to_log({o.nfp, "collect", "--task", o.task, "--episodes", std::to_string(o.episodes),
                                   "--seed", "0", "--out", data},
                                  dir / "collect.log");
        require(st == 0, "bench train: collecting the demonstrations failed: " + last_line(read_file(dir / "collect.log")));
      }
    }
    // no validation or checkpoint inside the timed steps
    std::ofstream(dir / "bench_train.json") << nlohmann::json{{"train",
                                                               {{"log_every", o.log_every},
                                                                {"validate_every", 1000000000},
                                                                {"checkpoint_every", 1000000000}}}}
                                                   .dump();
    std::vector<Layout> layouts;
    int most = 1;
    for (int n : o.nproc) layouts.push_back({n, 1}), most = std::max(most, n);
    if (most > 1) layouts.push_back({1, most});

    out = {{"machine", machine_description()},
           {"load_before", load_average()}, {"batch_per_rank", o.batch}, {"steps", o.steps}, {"data", data}};
    // samples/s of each (head, layout) per repeat, and the last run's all-reduce figures
    std::map<std::pair<std::string, size_t>, std::vector<double>> speed, wait_ms;
    std::map<std::pair<std::string, size_t>, nlohmann::json> allreduce;
    Progress bar("bench train runs", int64_t(o.repeats) * int64_t(o.heads.size() * layouts.size()), o.progress);
    int64_t done = 0;
    for (int rep = 0; rep < o.repeats; ++rep)
      for (const auto& head : o.heads)
        for (size_t li = 0; li < layouts.size(); ++li) {
          const Layout& l = layouts[li];
          const std::string name = head + "_" + std::to_string(l.ranks) + "x" + std::to_string(l.threads) + "_" +
                                   std::to_string(rep);
          const fs::path run = dir / name;
          fs::remove_all(run);
          const int st = run_to_log({o.nfp, "train", "--nproc", std::to_string(l.ranks), "--threads",
                                     std::to_string(l.threads), "--data", data, "--policy", head, "--batch",
                                     std::to_string(o.batch), "--steps", std::to_string(o.steps), "--config",
                                     (dir / "bench_train.json").string(), "--out", run.string(), "--no-progress",
                                     "--json"},
                                    dir / (name + ".log"));
          const std::string log = read_file(dir / (name + ".log"));
          require(st == 0, "bench train: `nfp train` of " + name + " failed (exit " + std::to_string(st) +
                               "): " + last_line(log) + " (log: " + (dir / (name + ".log")).string() + ")");
          const auto result = nlohmann::json::parse(last_line(log));
          const report::MetricRows metrics = report::read_metrics(run / "metrics.csv");
          const auto steps = metrics.column("step"), elapsed = metrics.column("elapsed_s");
          require(metrics.problem.empty() && steps.size() >= 3 && elapsed.size() == steps.size(),
                  "bench train: " + name + " logged " + std::to_string(steps.size()) + " usable rows " +
                      metrics.problem);
          const size_t last = steps.size() - 2;  // the final row includes the final validation and checkpoint
          const double per_step = (elapsed[last] - elapsed[0]) / (steps[last] - steps[0]);
          speed[{head, li}].push_back(double(o.batch) * l.ranks / per_step);
          const auto& ar = result.at("allreduce");
          wait_ms[{head, li}].push_back(ar.is_null() ? 0.0
                                                     : 1e3 * ar.at("wait_s").get<double>() /
                                                           double(result.at("steps_run").get<int64_t>()));
          allreduce[{head, li}] = ar;
          if (!keep) fs::remove_all(run);
          bar.update(++done, {{"samples/s", speed[{head, li}].back()}});
        }
    bar.finish();
    out["load_after"] = load_average();
    out["results"] = nlohmann::json::array();
    for (const auto& head : o.heads) {
      // the first layout is 1 rank x 1 thread when --nproc lists 1 first; without it there is nothing to compare to
      const bool has_base = layouts[0].ranks == 1 && layouts[0].threads == 1;
      const double base = median(speed[{head, 0}]);
      for (size_t li = 0; li < layouts.size(); ++li) {
        const double sps = median(speed[{head, li}]);
        const double step_ms = 1e3 * double(o.batch) * layouts[li].ranks / sps;
        const double w = median(wait_ms[{head, li}]);
        const auto& ar = allreduce[{head, li}];
        out["results"].push_back({{"head", head},
                                  {"ranks", layouts[li].ranks},
                                  {"threads", layouts[li].threads},
                                  {"global_batch", o.batch * layouts[li].ranks},
                                  {"samples_per_s", sps},
                                  {"step_ms", step_ms},
                                  {"allreduce_wait_ms", w},
                                  {"allreduce_share", w / step_ms},
                                  {"allreduce_mb", ar.is_null() ? 0.0 : ar.at("bytes_per_step").get<double>() / 1e6},
                                  {"buckets", ar.is_null() ? 0 : ar.at("buckets").get<int64_t>()},
                                  {"speedup", has_base ? json(sps / base) : json(nullptr)},
                                  {"runs", speed[{head, li}]}});
      }
    }
  } catch (const Error&) {
    throw;  // the folder stays: the error names the failing run's log in it
  } catch (...) {
    if (!keep) fs::remove_all(dir);
    throw;
  }
  if (!keep) fs::remove_all(dir);
  return out;
}

}  // namespace nfp::bench
