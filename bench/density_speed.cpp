// `nfp bench density-speed`: `nfp density fit` timed as a user runs it (a child process, wall clock) while every
// other core is kept busy by a spinning process, which is what a user's machine looks like.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <thread>

#include "bench_flow.hpp"
#include "machine_load.hpp"
#include "nfp/csv.hpp"
#include "nfp/error.hpp"
#include "nfp/toy_densities.hpp"

extern char** environ;

namespace nfp::bench {
namespace {

// Processes spinning on the other cores until destroyed (or, if this process dies first, for at most
// `max_seconds`: each sets an alarm that ends it).
class BusyProcesses {
 public:
  BusyProcesses(int n, int max_seconds) {
    for (int i = 0; i < n; ++i) {
      const pid_t pid = fork();
      require(pid >= 0, "fork failed: cannot start the competing busy process");
      if (pid == 0) {
        alarm(unsigned(max_seconds));  // SIGALRM's default action ends the child
        for (;;) asm volatile("" ::: "memory");  // spin; the barrier keeps the loop
      }
      pids_.push_back(pid);
    }
  }
  ~BusyProcesses() {
    for (pid_t p : pids_) kill(p, SIGKILL);
    for (pid_t p : pids_) waitpid(p, nullptr, 0);
  }

 private:
  std::vector<pid_t> pids_;
};

struct Case {
  Case(std::string n, std::vector<std::string> a, std::vector<std::string> e)
      : name(std::move(n)), args(std::move(a)), env(std::move(e)) {}
  std::string name;
  std::vector<std::string> args;  // after `nfp density fit`
  std::vector<std::string> env;   // NAME=VALUE added to a clean OpenMP environment
  double best_s = 1e300;
  nlohmann::json result = nlohmann::json::object();  // the child's --json line
};

// Runs `binary density fit args... --json` with OMP_* / GOMP_* removed from the environment (so the default is
// what a user who set nothing gets) plus `extra_env`; returns the wall time and fills `result`.
double run_fit(const std::string& binary, const Case& c, const std::filesystem::path& log, nlohmann::json& result) {
  std::vector<std::string> argv_s = {binary, "density", "fit"};
  argv_s.insert(argv_s.end(), c.args.begin(), c.args.end());
  argv_s.push_back("--json");
  std::vector<std::string> env_s;
  for (char** e = environ; *e; ++e) {
    const std::string kv = *e;
    if (kv.rfind("OMP_", 0) != 0 && kv.rfind("GOMP_", 0) != 0) env_s.push_back(kv);
  }
  env_s.insert(env_s.end(), c.env.begin(), c.env.end());
  std::vector<char*> argv, envp;
  for (auto& s : argv_s) argv.push_back(s.data());
  for (auto& s : env_s) envp.push_back(s.data());
  argv.push_back(nullptr);
  envp.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  const auto t0 = std::chrono::steady_clock::now();
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, binary.c_str(), &fa, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  require(rc == 0, "cannot start " + binary);
  int status = 0;
  waitpid(pid, &status, 0);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::ifstream in(log);
  std::string line, last;
  while (std::getline(in, line))
    if (!line.empty()) last = line;
  require(WIFEXITED(status) && WEXITSTATUS(status) == 0, "case '" + c.name + "' failed: " + last);
  result = nlohmann::json::parse(last);
  return s;
}

}  // namespace

nlohmann::json density_speed(const DensitySpeedOptions& o) {
  require(o.steps >= 1 && o.samples >= 2 && o.repeats >= 1, "--steps, --samples and --repeats must be positive");
  const auto dir = std::filesystem::temp_directory_path() / ("nfp_bench_density_speed_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  struct Cleanup {
    std::filesystem::path d;
    ~Cleanup() { std::filesystem::remove_all(d); }
  } cleanup{dir};
  // The CSVs hold exactly the samples `--toy` draws (train: seed, test: seed + 1000003), at full precision.
  const auto& d = toy_density(o.toy);
  Table train, test;
  train.columns = test.columns = {"x", "y"};
  train.values = d.sample(o.samples, o.seed);
  test.values = d.sample(10000, o.seed + 1000003);
  write_csv(dir / "train.csv", train);
  write_csv(dir / "test.csv", test);

  const std::string steps = std::to_string(o.steps), seed = std::to_string(o.seed), out = (dir / "m").string();
  const std::vector<std::string> toy = {"--toy", o.toy, "--toy-samples", std::to_string(o.samples), "--steps", steps,
                                        "--seed", seed, "--out", out, "--force"};  // every case refits m
  auto with = [](std::vector<std::string> a, std::vector<std::string> more) {
    a.insert(a.end(), more.begin(), more.end());
    return a;
  };
  std::vector<Case> cases = {
      {"toy, default threads", toy, {}},
      {"toy, --threads 1", with(toy, {"--threads", "1"}), {}},
      {"toy, --threads 2", with(toy, {"--threads", "2"}), {}},
      {"data, default threads",
       {"--data", (dir / "train.csv").string(), "--test", (dir / "test.csv").string(), "--steps", steps, "--seed", seed,
        "--out", out, "--force"},
       {}},
  };
  if (o.spinning) {  // the contrast: libgomp's default spinning, as every nfp run with 2 threads had before
    cases.push_back({"toy, --threads 2, GOMP_SPINCOUNT=300000 (spinning)", with(toy, {"--threads", "2"}),
                     {"GOMP_SPINCOUNT=300000"}});
  }

  const std::string binary = o.nfp_binary.empty() ? std::filesystem::read_symlink("/proc/self/exe").string() : o.nfp_binary;
  const int cores = int(std::max(1u, std::thread::hardware_concurrency()));
  const int busy = o.busy >= 0 ? o.busy : std::max(1, cores - 1);
  nlohmann::json r = {{"steps", o.steps},     {"samples", o.samples},           {"repeats", o.repeats},
                      {"toy", o.toy},         {"cores", cores},                 {"busy_processes", busy},
                      {"load_before", load_average()}};
  {
    BusyProcesses spin(busy, int(o.max_seconds));
    const auto t0 = std::chrono::steady_clock::now();
    for (int rep = 0; rep < o.repeats; ++rep)  // interleaved rounds; each case keeps its fastest
      for (auto& c : cases) {
        require(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() < o.max_seconds,
                "the benchmark ran past --max-seconds; use fewer --steps or --repeats");
        nlohmann::json res;
        const double s = run_fit(binary, c, dir / "log.txt", res);
        if (s < c.best_s) c.best_s = s, c.result = res;
      }
  }
  r["load_after"] = load_average();
  for (const auto& c : cases)
    r["cases"].push_back({{"name", c.name}, {"seconds", c.best_s}, {"train_nll", c.result.value("train_nll", 0.0)},
                          {"test_nll", c.result.value("test_nll", 0.0)}});
  const double best = std::min({cases[0].best_s, cases[1].best_s, cases[2].best_s});
  r["default_vs_best"] = cases[0].best_s / best;
  r["data_vs_toy"] = cases[3].best_s / cases[0].best_s;
  r["data_same_fit"] = cases[3].result["train_nll"] == cases[0].result["train_nll"] &&
                       cases[3].result["test_nll"] == cases[0].result["test_nll"];
  if (o.spinning) r["spinning_vs_passive"] = cases[4].best_s / cases[2].best_s;
  r["pass"] = r["default_vs_best"].get<double>() <= 1.3 && r["data_vs_toy"].get<double>() <= 1.3;
  return r;
}

}  // namespace nfp::bench
