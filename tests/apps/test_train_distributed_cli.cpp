// `nfp train` data-parallel through the real binary, ranks as processes launched the way torchrun launches them
// (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT), rank 1 with an --out of its own: 2 ranks x batch B/2 end with the
// weights of 1 rank x batch B (the regression head: no noise, no dropout, so only the summation order differs),
// only rank 0 writes, the run resumes on one rank, and a killed rank ends the other with one error line.
#include <gtest/gtest.h>


#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "loopback_port.hpp"
#include "nfp/atomic_file.hpp"
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
  // Starts `world` ranks of `args_of(rank)` with torchrun's variables; their pids (output to OUT.rank.log).
  static std::vector<pid_t> launch(int world, const std::function<std::vector<std::string>(int)>& args_of) {
    const int port = test::free_loopback_port();
    std::vector<pid_t> pids;
    ::setenv("WORLD_SIZE", std::to_string(world).c_str(), 1);
    ::setenv("MASTER_ADDR", "127.0.0.1", 1);
    ::setenv("MASTER_PORT", std::to_string(port).c_str(), 1);
    for (int r = 0; r < world; ++r) {
      ::setenv("RANK", std::to_string(r).c_str(), 1);
      pids.push_back(test::spawn_nfp(args_of(r), p("rank" + std::to_string(r) + ".log")));
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

TEST_F(TrainDistributed, TwoRanksOfHalfTheBatchMatchOneRankAndResumeOnOne) {
  auto largest_difference = [](const std::string& a, const std::string& b) { return nfp::largest_difference(root_, a, b); };
  const int steps = 12;
  ASSERT_EQ(run_nfp([&] {
              std::string l;
              for (const auto& a : train_args(p("one"), 16, steps)) l += a + " ";
              return l;
            }()).status,
            0);
  // rank 1 in its own working directory, with its own --out: it must write nothing there
  auto pids = launch(2, [&](int r) { return train_args(r == 0 ? p("two") : p("elsewhere/two"), 8, steps); });
  const int st0 = wait_for(pids[0]), st1 = wait_for(pids[1]);
  ASSERT_TRUE(WIFEXITED(st0) && WEXITSTATUS(st0) == 0) << log_of(0);
  ASSERT_TRUE(WIFEXITED(st1) && WEXITSTATUS(st1) == 0) << log_of(1);
  EXPECT_FALSE(fs::exists(root_ / "elsewhere")) << "rank 1 wrote a run directory";
  EXPECT_NE(log_of(1).find("rank 1 of 2: trained 12 steps"), std::string::npos) << log_of(1);

  // The same weights within float tolerance: gradients averaged over two halves vs one mean over the whole batch
  // differ only in summation order (~1e-7 relative), which Adam's normalised steps can carry to ~1e-5 absolute on
  // weights whose gradient is near zero after 12 steps (3.1e-5 seen); 1e-4 is the bound, and a wrong shard or
  // unsynchronised weights are off by far more (the control below).
  EXPECT_LT(largest_difference("one", "two"), 1e-4);
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
  // the logged loss is the global batch's on both (rank 0 logs the mean over the ranks)
  auto last_loss = [&](const std::string& run) {
    std::ifstream f(root_ / run / "metrics.csv");
    std::string line, last;
    while (std::getline(f, line))
      if (!line.empty()) last = line;
    const auto c = last.find(',');
    return std::stod(last.substr(c + 1, last.find(',', c + 1) - c - 1));
  };
  EXPECT_NEAR(last_loss("two"), last_loss("one"), 1e-4 * std::abs(last_loss("one")) + 1e-6);

  // A 2-rank checkpoint resumes on one process
  const auto r = run_nfp("train --out " + p("two") + " --resume --steps 14 --no-progress");
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("14 steps"), std::string::npos) << r.out;
}

TEST_F(TrainDistributed, AKilledRankEndsTheOtherWithOneLine) {
  auto pids = launch(2, [&](int r) { return train_args(p(r == 0 ? "k0" : "k1"), 8, 1000000); });
  // once rank 0 trains (its run directory is written), rank 1 dies
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  int st = 0;
  while (!fs::exists(root_ / "k0" / "train_config.json") && std::chrono::steady_clock::now() < deadline) {
    ASSERT_NE(::waitpid(pids[0], &st, WNOHANG), pids[0]) << "rank 0 ended before training: " << log_of(0);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  ::kill(pids[1], SIGKILL);
  wait_for(pids[1]);
  const auto t0 = std::chrono::steady_clock::now();
  st = wait_for(pids[0]);
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 60.0);
  ASSERT_TRUE(WIFEXITED(st)) << log_of(0);
  EXPECT_NE(WEXITSTATUS(st), 0);
  const std::string out = log_of(0);
  EXPECT_NE(out.find("distributed: rank 0 of 2"), std::string::npos) << out;
}

TEST_F(TrainDistributed, BadVariablesAreOneLineBeforeAnyWork) {
  ::setenv("RANK", "0", 1);
  auto r = run_nfp("train --data " + p("d.hdf5") + " --policy regression --steps 2 --out " + p("bad") + " --no-progress");
  ::unsetenv("RANK");
  test::expect_one_line_error(r, "WORLD_SIZE");
  EXPECT_FALSE(fs::exists(root_ / "bad"));
}

}  // namespace
}  // namespace nfp
