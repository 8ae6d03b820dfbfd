// `nfp train` data-parallel through the real binary. Ranks launched the way torchrun launches them (RANK,
// WORLD_SIZE, MASTER_ADDR, MASTER_PORT), each in a working directory of its own as on two machines: 2 ranks x batch
// B/2 end with the weights of 1 rank x batch B (the regression head: no noise, no dropout, so only the summation
// order differs), only rank 0 writes, the run resumes on both ranks (rank 1 without the run directory) and on one.
// The local launcher `--nproc`: its --json, Ctrl-C leaving a checkpoint that resumes, a killed rank and a hung one
// ending the job with one line naming that rank.
#include <gtest/gtest.h>


#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>
#include <algorithm>

#include "nfp/atomic_file.hpp"
#include "nfp/free_port.hpp"
#include "nfp/safetensors.hpp"
#include "demo_data_suite.hpp"
#include "nfp_cli.hpp"

namespace fs = std::filesystem;

namespace nfp {
namespace {

using test::run_nfp;

class TrainDistributed : public test::DemoDataSuite<TrainDistributed> {
 public:
  static constexpr const char* kFolder = "nfp_ddp_";

 protected:
  static std::vector<std::string> train_args(const std::string& out, int batch, int steps) {
    return {"train", "--data", p("d.hdf5"), "--policy", "regression", "--batch", std::to_string(batch), "--steps",
            std::to_string(steps), "--out", out, "--no-progress", "--deterministic", "--seed", "3"};
  }
  // Starts `world` ranks of `args_of(rank)` with torchrun's variables, rank r in the working directory
  // `cwd_of(r)` (default: this one); their pids (output to rank<r>.log).
  static std::vector<pid_t> launch(int world, const std::function<std::vector<std::string>(int)>& args_of,
                                   const std::function<std::string(int)>& cwd_of = {}) {
    const int port = free_tcp_port();
    std::vector<pid_t> pids;
    ::setenv("WORLD_SIZE", std::to_string(world).c_str(), 1);
    ::setenv("MASTER_ADDR", "127.0.0.1", 1);
    ::setenv("MASTER_PORT", std::to_string(port).c_str(), 1);
    for (int r = 0; r < world; ++r) {
      ::setenv("RANK", std::to_string(r).c_str(), 1);
      pids.push_back(test::spawn_nfp(args_of(r), p("rank" + std::to_string(r) + ".log"), cwd_of ? cwd_of(r) : ""));
    }
    for (const char* v : {"RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"}) ::unsetenv(v);
    return pids;
  }
  static int wait_for(pid_t pid) {
    int st = -1;
    if (pid <= 0 || ::waitpid(pid, &st, 0) != pid) return -1;
    return st;
  }
  static std::string log_of(int rank) { return read_file(root_ / ("rank" + std::to_string(rank) + ".log")); }
};

std::vector<float> floats(const SafeTensor& t) {
  std::vector<float> v(size_t(t.numel()));
  std::memcpy(v.data(), t.data.data(), v.size() * sizeof(float));
  return v;
}

// The largest absolute difference between two runs' float weights (their checkpoint/model.safetensors).
double largest_difference(const fs::path& root, const std::string& a_run, const std::string& b_run) {
  const auto a = read_safetensors(root / a_run / "checkpoint" / "model.safetensors");
  const auto b = read_safetensors(root / b_run / "checkpoint" / "model.safetensors");
  EXPECT_EQ(a.tensors.size(), b.tensors.size());
  double worst = 0;
  for (const auto& [name, t] : a.tensors) {
    if (t.dtype != "F32" || !b.tensors.count(name)) continue;
    const auto x = floats(t), y = floats(b.tensors.at(name));
    EXPECT_EQ(x.size(), y.size()) << name;
    for (size_t i = 0; i < x.size() && i < y.size(); ++i) worst = std::max(worst, double(std::abs(x[i] - y[i])));
  }
  return worst;
}

TEST_F(TrainDistributed, TwoRanksOfHalfTheBatchMatchOneRankAndResumeOnBothAndOnOne) {
  auto largest_difference = [](const std::string& a, const std::string& b) { return nfp::largest_difference(root_, a, b); };
  const int steps = 12;
  auto line = [](const std::vector<std::string>& args) {
    std::string l;
    for (const auto& a : args) l += a + " ";
    return l;
  };
  ASSERT_EQ(run_nfp(line(train_args(p("one"), 16, steps))).status, 0);
  // Two "machines": each rank in a working directory of its own, the same relative --out. Rank 1 writes nothing.
  fs::create_directories(root_ / "A");
  fs::create_directories(root_ / "B");
  const auto machine = [&](int r) { return p(r == 0 ? "A" : "B"); };
  // --dist-check: after every step each rank's weights and EMA weights are checksummed against rank 0's
  auto pids = launch(2, [&](int) {
    auto args = train_args("run", 8, steps);
    args.push_back("--dist-check");
    return args;
  }, machine);
  const int st0 = wait_for(pids[0]), st1 = wait_for(pids[1]);
  ASSERT_TRUE(WIFEXITED(st0) && WEXITSTATUS(st0) == 0) << log_of(0);
  ASSERT_TRUE(WIFEXITED(st1) && WEXITSTATUS(st1) == 0) << log_of(1);
  EXPECT_TRUE(fs::exists(root_ / "A" / "run" / "checkpoint" / "train_state.safetensors"));
  EXPECT_FALSE(fs::exists(root_ / "B" / "run")) << "rank 1 wrote a run directory";
  EXPECT_NE(log_of(1).find("rank 1 of 2: trained 12 steps"), std::string::npos) << log_of(1);

  // The same weights within float tolerance: gradients averaged over two halves vs one mean over the whole batch
  // differ only in summation order (~1e-7 relative), which Adam's normalised steps can carry to ~1e-5 absolute on
  // weights whose gradient is near zero after 12 steps (3.1e-5 seen); 1e-4 is the bound, and a wrong shard or
  // unsynchronised weights are off by far more (the control below).
  EXPECT_LT(largest_difference("one", "A/run"), 1e-4);
  // The check can fail: rank 1 shuffling with another seed takes other windows than its slice, and the weights
  // move away by far more than the tolerance.
  pids = launch(2, [&](int r) {
    auto args = train_args(r == 0 ? p("skewed") : p("elsewhere/skewed"), 8, steps);
    if (r == 1) args.back() = "4";  // --seed 4
    return args;
  });
  ASSERT_EQ(wait_for(pids[0]), 0) << log_of(0);
  ASSERT_EQ(wait_for(pids[1]), 0) << log_of(1);
  EXPECT_GT(largest_difference("one", "skewed"), 1e-3);
  // and the per-step check can fail: rank 1 with another learning rate differs after the first step
  pids = launch(2, [&](int r) {
    auto args = train_args(p(r == 0 ? "checked" : "elsewhere/checked"), 8, steps);
    args.insert(args.end(), {"--dist-check", "--lr", r == 0 ? "0.001" : "0.002"});
    return args;
  });
  const int c0 = wait_for(pids[0]), c1 = wait_for(pids[1]);
  EXPECT_TRUE(WIFEXITED(c0) && WEXITSTATUS(c0) == 1) << log_of(0);
  EXPECT_TRUE(WIFEXITED(c1) && WEXITSTATUS(c1) == 1) << log_of(1);
  EXPECT_NE(log_of(0).find("--dist-check: after step 1: rank 1's weights differ from rank 0's"), std::string::npos)
      << log_of(0);
  // the logged loss is the global batch's on both (rank 0 logs the mean over the ranks)
  auto last_loss = [&](const std::string& run) {
    std::ifstream f(root_ / run / "metrics.csv");
    std::string row, last;
    while (std::getline(f, row))
      if (!row.empty()) last = row;
    const auto c = last.find(',');
    return std::stod(last.substr(c + 1, last.find(',', c + 1) - c - 1));
  };
  EXPECT_NEAR(last_loss("A/run"), last_loss("one"), 1e-4 * std::abs(last_loss("one")) + 1e-6);

  // Resumed on both ranks, rank 1 without the run directory (rank 0 sends the configuration, statistics, weights,
  // optimizer moments and step count): still the single process's weights, resumed alike.
  ASSERT_EQ(run_nfp("train --out " + p("one") + " --resume --steps 14 --no-progress").status, 0);
  pids = launch(2, [&](int) { return std::vector<std::string>{"train", "--out", "run", "--resume", "--steps", "14",
                                                              "--no-progress"}; }, machine);
  ASSERT_EQ(wait_for(pids[0]), 0) << log_of(0);
  ASSERT_EQ(wait_for(pids[1]), 0) << log_of(1);
  EXPECT_FALSE(fs::exists(root_ / "B" / "run")) << "rank 1 wrote a run directory";
  EXPECT_LT(largest_difference("one", "A/run"), 1e-4);

  // A 2-rank checkpoint resumes on one process
  const auto r = run_nfp("train --out " + p("A/run") + " --resume --steps 16 --no-progress");
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("16 steps"), std::string::npos) << r.out;
}

// The launcher's ranks: the pids listed in /proc/<launcher>/task/<launcher>/children once `n` are there.
std::vector<pid_t> children_of(pid_t launcher, size_t n) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  std::vector<pid_t> kids;
  while (kids.size() < n && std::chrono::steady_clock::now() < deadline) {
    kids.clear();
    std::ifstream f("/proc/" + std::to_string(launcher) + "/task/" + std::to_string(launcher) + "/children");
    for (pid_t k; f >> k;) kids.push_back(k);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::sort(kids.begin(), kids.end());  // spawned in rank order
  return kids;
}

// Waits until `file` exists (a run's progress) or `pid` ended; false if it ended first or 120 s passed.
bool wait_for_file(const fs::path& file, pid_t pid) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (!fs::exists(file) && std::chrono::steady_clock::now() < deadline) {
    if (::kill(pid, 0) != 0) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return fs::exists(file);
}

TEST_F(TrainDistributed, LauncherRunsRanksStopsThemTogetherAndNamesAFailingOne) {
  // --nproc 2 --json: rank 0's result line, with the world and the all-reduce's figures
  auto r = run_nfp("train --nproc 2 --data " + p("d.hdf5") + " --policy regression --batch 8 --steps 6 --out " +
                   p("l") + " --no-progress --json");
  ASSERT_EQ(r.status, 0) << r.out;
  const auto j = test::last_line_json(r.out);
  EXPECT_EQ(j.at("world_size"), 2);
  EXPECT_GT(j.at("allreduce").at("bytes_per_step").get<int64_t>(), 0);
  EXPECT_GE(j.at("allreduce").at("buckets").get<int64_t>(), 1);

  // Ctrl-C on the launcher: every rank stops at one step, rank 0 checkpoints it, exit 130; --resume continues
  auto long_run = [&](const std::string& out, const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = train_args(p(out), 8, 1000000);
    args.insert(args.begin() + 1, {"--nproc", "2"});
    args.insert(args.end(), extra.begin(), extra.end());
    return test::spawn_nfp(args, p(out + ".log"));
  };
  pid_t launcher = long_run("stop");
  ASSERT_TRUE(wait_for_file(root_ / "stop" / "train_config.json", launcher)) << read_file(root_ / "stop.log");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ::kill(launcher, SIGINT);
  int st = wait_for(launcher);
  std::string log = read_file(root_ / "stop.log");
  ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 130) << log;
  EXPECT_NE(log.find("interrupted at step"), std::string::npos) << log;
  EXPECT_NE(log.find("[rank 1] rank 1 of 2: stopped at step"), std::string::npos) << log;
  const SafeTensorsFile state = read_safetensors(root_ / "stop" / "checkpoint" / "train_state.safetensors");
  const int64_t at = std::stoll(state.metadata.at("step"));
  r = run_nfp("train --nproc 2 --out " + p("stop") + " --resume --steps " + std::to_string(at + 3) + " --no-progress");
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find(std::to_string(at + 3) + " steps"), std::string::npos) << r.out;

  // A killed rank: the job ends with that rank's status and one line naming it
  launcher = long_run("killed");
  ASSERT_TRUE(wait_for_file(root_ / "killed" / "train_config.json", launcher)) << read_file(root_ / "killed.log");
  auto ranks = children_of(launcher, 2);
  ASSERT_EQ(ranks.size(), 2u);
  ::kill(ranks[1], SIGKILL);
  auto t0 = std::chrono::steady_clock::now();
  st = wait_for(launcher);
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 30.0);
  log = read_file(root_ / "killed.log");
  ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 128 + SIGKILL) << log;
  EXPECT_NE(log.find("nfp train: rank 1 of 2 was killed by signal 9"), std::string::npos) << log;

  // A hung rank (stopped): the other ends within --dist-timeout, naming it; the launcher then kills the hung one
  launcher = long_run("hung", {"--dist-timeout", "3"});
  ASSERT_TRUE(wait_for_file(root_ / "hung" / "train_config.json", launcher)) << read_file(root_ / "hung.log");
  ranks = children_of(launcher, 2);
  ASSERT_EQ(ranks.size(), 2u);
  ::kill(ranks[1], SIGSTOP);
  t0 = std::chrono::steady_clock::now();
  st = wait_for(launcher);
  // 3 s of timeout, then the launcher's 10 s of grace for the stopped rank before SIGKILL; 40 s is ample
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 40.0);
  log = read_file(root_ / "hung.log");
  ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 1) << log;
  // which collective rank 0 was waiting in when rank 1 stopped (the gradients' or the logged metrics') is timing
  EXPECT_TRUE(log.find("distributed: rank 0 of 2: gradient all-reduce failed (rank 1 died, hung or left; each stops "
                       "within 3 s") != std::string::npos ||
              log.find("distributed: rank 0 of 2: metric all-reduce failed (rank 1 died, hung or left; each stops "
                       "within 3 s") != std::string::npos) << log;
  EXPECT_NE(log.find("nfp train: rank 0 of 2 exited with code 1"), std::string::npos) << log;
  EXPECT_NE(::kill(ranks[1], 0), 0) << "the hung rank was left running";
}

// `nfp bench train`: one row per layout (1 x 1, 2 x 1, 1 x 2), speeds measured, the all-reduce only where ranks are
// more than one; a run that fails is one line naming it and its log.
TEST_F(TrainDistributed, BenchTrainMeasuresEveryLayout) {
  auto r = run_nfp("bench train --heads regression --nproc 1,2 --steps 30 --batch 8 --data " + p("d.hdf5") + " --json");
  ASSERT_EQ(r.status, 0) << r.out;
  const auto j = test::last_line_json(r.out);
  ASSERT_EQ(j.at("results").size(), 3u) << j.dump();
  const std::vector<std::pair<int, int>> layouts = {{1, 1}, {2, 1}, {1, 2}};
  for (size_t i = 0; i < 3; ++i) {
    const auto& x = j["results"][i];
    EXPECT_EQ(x.at("ranks"), layouts[i].first);
    EXPECT_EQ(x.at("threads"), layouts[i].second);
    EXPECT_EQ(x.at("global_batch"), 8 * layouts[i].first);
    EXPECT_GT(x.at("samples_per_s").get<double>(), 0);
    EXPECT_NEAR(x.at("step_ms").get<double>(), 1e3 * 8 * layouts[i].first / x.at("samples_per_s").get<double>(), 1e-6);
    EXPECT_EQ(x.at("allreduce_mb").get<double>() > 0, layouts[i].first == 2) << x.dump();
  }
  EXPECT_DOUBLE_EQ(j["results"][0].at("speedup").get<double>(), 1.0);
  // without a 1 x 1 layout there is nothing to compare to: no speed-up rather than a made-up 1.0
  r = run_nfp("bench train --heads regression --nproc 2 --steps 30 --batch 8 --data " + p("d.hdf5") + " --json");
  ASSERT_EQ(r.status, 0) << r.out;
  const auto k = test::last_line_json(r.out);
  ASSERT_EQ(k.at("results").size(), 2u) << k.dump();  // 2 x 1 and 1 x 2
  for (const auto& x : k["results"]) EXPECT_TRUE(x.at("speedup").is_null()) << x.dump();
  r = run_nfp("bench train --heads regression --steps 30 --data " + p("missing.hdf5"));
  test::expect_one_line_error(r, "bench train: `nfp train` of regression_1x1_0 failed (exit 1)");
  // the failing run's log is kept, where the line says
  const auto at = r.out.find("(log: ");
  ASSERT_NE(at, std::string::npos) << r.out;
  const fs::path log = r.out.substr(at + 6, r.out.rfind(')') - at - 6);
  EXPECT_NE(read_file(log).find("missing.hdf5"), std::string::npos) << log;
  fs::remove_all(log.parent_path());
}

TEST_F(TrainDistributed, BadVariablesAreOneLineBeforeAnyWork) {
  ::setenv("RANK", "0", 1);
  auto r = run_nfp("train --data " + p("d.hdf5") + " --policy regression --steps 2 --out " + p("bad") + " --no-progress");
  ::unsetenv("RANK");
  test::expect_one_line_error(r, "WORLD_SIZE");
  EXPECT_FALSE(fs::exists(root_ / "bad"));
  // --nproc inside a launched job would launch ranks of ranks
  ::setenv("RANK", "0", 1);
  ::setenv("WORLD_SIZE", "2", 1);
  r = run_nfp("train --nproc 2 --data " + p("d.hdf5") + " --policy regression --steps 2 --out " + p("bad") +
              " --no-progress");
  ::unsetenv("RANK");
  ::unsetenv("WORLD_SIZE");
  test::expect_one_line_error(r, "--nproc: RANK / WORLD_SIZE are already set");
  EXPECT_FALSE(fs::exists(root_ / "bad"));
  r = run_nfp("train --nproc 0 --data " + p("d.hdf5") + " --out " + p("bad"));
  EXPECT_EQ(r.status, 2) << r.out;  // a usage error
  EXPECT_NE(r.out.find("--nproc"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace nfp
