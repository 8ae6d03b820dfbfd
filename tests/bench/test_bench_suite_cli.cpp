// `nfp bench suite` and `nfp bench ablations` end to end at toy sizes (a few demos, a few training steps):
// the files they write, resuming, the summary's arithmetic, and clean failures that leave nothing behind.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "nfp_cli.hpp"

namespace fs = std::filesystem;

namespace nfp {
namespace {

using test::last_line_json;
using test::run_nfp;

class BenchMatrixCli : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(test::nfp_available()) << "the nfp binary is not built (NFP_BIN)";
    dir = fs::temp_directory_path() /
          ("nfp_bench_matrix_" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  void TearDown() override { fs::remove_all(dir); }
  std::string p(const std::string& name) const { return (dir / name).string(); }
  static std::string read(const fs::path& f) {
    std::ifstream in(f);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  fs::path dir;
};

size_t lines(const std::string& s) { return size_t(std::count(s.begin(), s.end(), '\n')); }

TEST_F(BenchMatrixCli, SuiteWritesTablesAndResumes) {
  const std::string args = "bench suite --out " + p("s") + " --demos 3 --steps 5 --episodes 1 --heads regression nina-mlp --json";
  auto r = run_nfp(args);
  ASSERT_EQ(r.status, 0) << r.out;
  const auto j = last_line_json(r.out);
  ASSERT_EQ(j["rows"].size(), 2u);
  EXPECT_EQ(j["rows"][0]["head"], "regression");
  EXPECT_EQ(j["rows"][1]["strategy"], "sbs");  // flow heads are evaluated with SBS
  EXPECT_EQ(j["rows"][1]["train_steps"], 5);
  const auto csv = read(dir / "s" / "results.csv");
  EXPECT_EQ(csv.substr(0, csv.find('\n')),
            "task,head,strategy,success_pc,episodes,params,chunk_p50_ms,chunk_p99_ms,train_steps,train_wall_s,"
            "train_cpu_s,eval_wall_s,demos");
  EXPECT_EQ(lines(csv), 3u);
  EXPECT_NE(read(dir / "s" / "results.md").find("| push-two-goals | nina-mlp | sbs |"), std::string::npos);
  EXPECT_EQ(read(dir / "s" / "latency_vs_success.svg").rfind("<svg", 0), 0u);
  // `nfp report` of the directory: its table, and every cell's run with its evaluation (the whole eval_info.json the
  // suite keeps beside each summary)
  auto rep = run_nfp("report " + p("s") + " --out " + p("s_report") + " --json");
  ASSERT_EQ(rep.status, 0) << rep.out;
  const auto rj = last_line_json(rep.out);
  EXPECT_EQ(rj["benches"], 1);
  EXPECT_EQ(rj["runs"], 2);
  EXPECT_EQ(rj["evals"], 2);
  EXPECT_TRUE(rj["problems"].empty()) << rj.dump();
  // A rerun finds every cell done: same figures, nothing retrained.
  const auto stamp = fs::last_write_time(dir / "s" / "runs" / "push-two-goals" / "nina-mlp" / "cell.json");
  auto again = run_nfp(args);
  ASSERT_EQ(again.status, 0) << again.out;
  EXPECT_EQ(last_line_json(again.out)["rows"], j["rows"]);
  EXPECT_EQ(fs::last_write_time(dir / "s" / "runs" / "push-two-goals" / "nina-mlp" / "cell.json"), stamp);
}

TEST_F(BenchMatrixCli, AblationSummaryMatchesItsRows) {
  auto r = run_nfp("bench ablations --out " + p("a") + " --axes sigma --demos 3 --steps 5 --episodes 1 --eval-seeds 2 --json");
  ASSERT_EQ(r.status, 0) << r.out;
  const auto summary = last_line_json(r.out)["summary"];
  ASSERT_EQ(summary.size(), 4u);  // sigma 0.25, 0.5, 0.75, 1.0
  EXPECT_EQ(summary[0]["value"], "sigma=0.25");
  for (const auto& s : summary) {
    EXPECT_EQ(s["n"], 2);
    EXPECT_LE(s["min"].get<double>(), s["mean"].get<double>());
    EXPECT_GE(s["max"].get<double>(), s["mean"].get<double>());
    // two samples: std = |a - b| / sqrt(2)
    EXPECT_NEAR(s["std"].get<double>(), (s["max"].get<double>() - s["min"].get<double>()) / std::sqrt(2.0), 1e-9);
  }
  const auto csv = read(dir / "a" / "results.csv");
  EXPECT_EQ(lines(csv), 1u + 8u);  // header + 4 values x 2 evaluation blocks
  EXPECT_NE(csv.find(",100000,"), std::string::npos);
  EXPECT_NE(csv.find(",101000,"), std::string::npos);
  EXPECT_EQ(read(dir / "a" / "ablation_sigma.svg").rfind("<svg", 0), 0u);
  // One model served all four sigmas.
  size_t models = 0;
  for (const auto& e : fs::directory_iterator(dir / "a" / "models")) models += e.is_directory();
  EXPECT_EQ(models, 1u);
}

// noise 0.05 and PLU on are both the nina-mlp defaults: the two axes share that model (4 models, not 5).
TEST_F(BenchMatrixCli, AxesShareModelsWithTheSameResolvedSettings) {
  auto r = run_nfp("bench ablations --out " + p("a") + " --axes noise,plu --demos 3 --steps 3 --episodes 1 --eval-seeds 1 --json");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(last_line_json(r.out)["summary"].size(), 5u);
  size_t models = 0;
  for (const auto& e : fs::directory_iterator(dir / "a" / "models")) models += e.is_directory();
  EXPECT_EQ(models, 4u);
}

// Training seeds are separate models (seed 0 and 1 of each setting), each evaluated on every block.
TEST_F(BenchMatrixCli, TrainSeedsTrainSeparateModels) {
  auto r = run_nfp("bench ablations --out " + p("a") + " --axes plu --demos 3 --steps 3 --episodes 1 --eval-seeds 1 "
                   "--train-seeds 2 --json");
  ASSERT_EQ(r.status, 0) << r.out;
  const auto summary = last_line_json(r.out)["summary"];
  ASSERT_EQ(summary.size(), 2u);
  for (const auto& s : summary) EXPECT_EQ(s["n"], 2);  // 2 training seeds x 1 block
  size_t models = 0;
  for (const auto& e : fs::directory_iterator(dir / "a" / "models")) models += e.is_directory();
  EXPECT_EQ(models, 4u);
  const auto csv = read(dir / "a" / "results.csv");
  EXPECT_NE(csv.find("PLU off,nina-mlp,sample,1.00,1,"), std::string::npos) << csv;  // a train_seed 1 row
}

// Data scaling: both heads at every demonstration count, one dataset per count, and the curve with a marker per
// point (the suite's 10 / 25 / 50 / 100 / 200 demos; 2 training steps keep it fast).
TEST_F(BenchMatrixCli, DataAxisTrainsBothHeadsAtEveryCount) {
  auto r = run_nfp("bench ablations --out " + p("a") + " --axes data --steps 2 --episodes 1 --eval-seeds 1 --json");
  ASSERT_EQ(r.status, 0) << r.out;
  const auto summary = last_line_json(r.out)["summary"];
  ASSERT_EQ(summary.size(), 10u);
  const std::vector<double> counts = {10, 25, 50, 100, 200};
  for (size_t i = 0; i < summary.size(); ++i) {
    EXPECT_EQ(summary[i]["head"], i % 2 == 0 ? "nfp-spline" : "diffusion");
    EXPECT_EQ(summary[i]["strategy"], i % 2 == 0 ? "sbs" : "sample");
    EXPECT_DOUBLE_EQ(summary[i]["x"].get<double>(), counts[i / 2]);
  }
  size_t models = 0, datasets = 0;
  for (const auto& e : fs::directory_iterator(dir / "a" / "models")) models += e.is_directory();
  for (const auto& e : fs::directory_iterator(dir / "a" / "data")) datasets += e.path().extension() == ".hdf5";
  EXPECT_EQ(models, 10u);
  EXPECT_EQ(datasets, 5u);
  const auto svg = read(dir / "a" / "data_scaling.svg");
  size_t circles = 0;
  for (size_t i = svg.find("<circle"); i != std::string::npos; i = svg.find("<circle", i + 1)) ++circles;
  EXPECT_EQ(circles, 10u);
  EXPECT_NE(svg.find(">nfp-spline</text>"), std::string::npos);
  EXPECT_NE(svg.find(">diffusion</text>"), std::string::npos);
}

// --base-run serves every nfp-spline variant whose resolved settings are the defaults (stride 1 here): only
// s = 2, 4, 8 are trained.
TEST_F(BenchMatrixCli, BaseRunServesTheDefaultVariant) {
  auto s = run_nfp("bench suite --out " + p("s") + " --demos 3 --steps 3 --episodes 1 --heads nfp-spline");
  ASSERT_EQ(s.status, 0) << s.out;
  auto r = run_nfp("bench ablations --out " + p("a") + " --axes stride --demos 3 --steps 3 --episodes 1 --eval-seeds 1 "
                   "--base-run " + p("s/runs/push-two-goals/nfp-spline") + " --json");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(last_line_json(r.out)["summary"].size(), 4u);
  size_t models = 0;
  for (const auto& e : fs::directory_iterator(dir / "a" / "models")) models += e.is_directory();
  EXPECT_EQ(models, 3u);
  EXPECT_NE(read(dir / "a" / "results.csv").find(p("s/runs/push-two-goals/nfp-spline")), std::string::npos)
      << "the s=1 row names the base run as its model";
}

TEST_F(BenchMatrixCli, BadInputFailsBeforeWritingAnything) {
  auto expect_error = [&](const std::string& args, const std::string& needle) {
    auto r = run_nfp(args);
    EXPECT_NE(r.status, 0) << args;
    EXPECT_NE(r.out.find(needle), std::string::npos) << args << "\n" << r.out;
    EXPECT_LE(lines(r.out), 2u) << r.out;
    EXPECT_FALSE(fs::exists(dir / "x")) << args;
  };
  expect_error("bench suite --profile huge --out " + p("x"), "unknown suite profile 'huge'");
  expect_error("bench suite --out " + p("x") + " --heads nope", "nope");
  expect_error("bench suite --out " + p("x") + " --tasks nowhere", "nowhere");
  expect_error("bench suite --profile quick", "--out");
  expect_error("bench ablations --out " + p("x") + " --axes sigma,colour", "unknown ablation axis 'colour'");
  expect_error("bench ablations --out " + p("x") + " --axes sigma --base-run " + p("no_run"), "no_run");
  expect_error("bench ablations --out " + p("x") + " --episodes 0", "--episodes: must be a whole number from 1");
}

}  // namespace
}  // namespace nfp
