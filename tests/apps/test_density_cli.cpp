// `nfp density` end to end through the real binary: files written, --json results, one-line errors, and
// failed runs that leave nothing behind.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "nfp/csv.hpp"
#include "nfp_cli.hpp"

namespace fs = std::filesystem;

namespace nfp {
namespace {

using test::last_line_json;
using test::run_nfp;

class DensityCli : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(test::nfp_available()) << "the nfp binary is not built (NFP_BIN)";
    dir = fs::temp_directory_path() / ("nfp_density_cli_" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  void TearDown() override { fs::remove_all(dir); }
  void write(const std::string& name, const std::string& text) { std::ofstream(dir / name) << text; }
  std::string p(const std::string& name) const { return (dir / name).string(); }
  fs::path dir;
};

// CI-sized quality check: a small spline flow on 8-gaussians for 400 steps reaches a test NLL within 0.35 nats
// of the true entropy (1.70). The full-size figure (within 0.05) is a benchmark: `nfp bench density`.
// A wrong log-determinant or a broken sampler misses this bound by more than a nat.
TEST_F(DensityCli, FitToyWritesModelAndGetsCloseToTheEntropy) {
  auto r = run_nfp("density fit --toy 8-gaussians --flow spline --layers 4 --hidden 64 --steps 400 --batch 256 --toy-samples 5000 --out " +
                   p("model") + " --json");
  ASSERT_EQ(r.status, 0) << r.out;
  auto j = last_line_json(r.out);
  EXPECT_TRUE(fs::exists(dir / "model" / "config.json"));
  EXPECT_TRUE(fs::exists(dir / "model" / "model.safetensors"));
  EXPECT_TRUE(fs::exists(dir / "model" / "metrics.json"));
  EXPECT_NEAR(j["entropy"].get<double>(), 1.70, 0.02);
  EXPECT_LT(j["test_nll"].get<double>() - j["entropy"].get<double>(), 0.35) << r.out;
  EXPECT_GT(j["test_nll"].get<double>() - j["entropy"].get<double>(), -0.05) << "NLL below the entropy: a log-det bug";

  // Samples have the model's columns and lie near the 8 modes (radius 2).
  auto s = run_nfp("density sample --model " + p("model") + " -n 500 --sigma 0.5 --out " + p("s.csv"));
  ASSERT_EQ(s.status, 0) << s.out;
  auto t = read_csv(dir / "s.csv");
  ASSERT_EQ(t.columns, (std::vector<std::string>{"x", "y"}));
  ASSERT_EQ(t.rows(), 500);
  int near_ring = 0;
  for (int64_t i = 0; i < t.rows(); ++i) near_ring += std::abs(std::hypot(t.at(i, 0), t.at(i, 1)) - 2.0) < 0.5;
  EXPECT_GT(near_ring, 450);

  // logprob of the samples: --json nll and a per-row CSV.
  auto l = run_nfp("density logprob --model " + p("model") + " --data " + p("s.csv") + " --out " + p("lp.csv") + " --json");
  ASSERT_EQ(l.status, 0) << l.out;
  EXPECT_TRUE(last_line_json(l.out).contains("nll"));
  EXPECT_EQ(read_csv(dir / "lp.csv").rows(), 500);
}

TEST_F(DensityCli, ConditionalFitFromCsvAndSampleWithContext) {
  // y = 3 c + small noise: sampling at c = 1 must give y near 3, at c = -1 near -3.
  std::string csv = "c,x,y\n";
  for (int i = 0; i < 600; ++i) {
    const double c = (i % 2) ? 1.0 : -1.0, e = 0.05 * std::sin(i * 12.9898);
    csv += std::to_string(c) + "," + std::to_string(0.1 * std::cos(i * 7.1)) + "," + std::to_string(3 * c + e) + "\n";
  }
  write("train.csv", csv);
  auto r = run_nfp("density fit --data " + p("train.csv") + " --context-columns c --flow affine --layers 4 --hidden 32 --steps 300 --out " + p("m"));
  ASSERT_EQ(r.status, 0) << r.out;
  for (double c : {1.0, -1.0}) {
    auto s = run_nfp("density sample --model " + p("m") + " -n 200 --context c=" + std::to_string(c) + " --out " + p("s.csv"));
    ASSERT_EQ(s.status, 0) << s.out;
    auto t = read_csv(dir / "s.csv");
    ASSERT_EQ(t.columns, (std::vector<std::string>{"x", "y"}));
    double mean = 0;
    for (int64_t i = 0; i < t.rows(); ++i) mean += t.at(i, 1) / double(t.rows());
    EXPECT_NEAR(mean, 3 * c, 0.5);
  }
  auto missing = run_nfp("density sample --model " + p("m") + " -n 5 --out " + p("x.csv"));
  EXPECT_NE(missing.status, 0);
  EXPECT_NE(missing.out.find("missing --context c=VALUE"), std::string::npos) << missing.out;
  auto unknown = run_nfp("density sample --model " + p("m") + " -n 5 --context d=1 --out " + p("x.csv"));
  EXPECT_NE(unknown.out.find("unknown context column 'd'; this model's context columns: c"), std::string::npos)
      << unknown.out;
}

TEST_F(DensityCli, BadInputGivesOneLineAndWritesNothing) {
  write("nan.csv", "x,y\n1,2\n3,NaN\n");
  auto r = run_nfp("density fit --data " + p("nan.csv") + " --steps 5 --out " + p("out"));
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.out, "nfp: error: '" + p("nan.csv") + "' line 3, column 'y': 'NaN' is not finite; remove or fix that row\n");
  EXPECT_FALSE(fs::exists(dir / "out"));

  write("ok.csv", "x,y\n1,2\n3,4\n5,7\n");
  auto c = run_nfp("density fit --data " + p("ok.csv") + " --columns x,z --steps 5 --out " + p("out"));
  EXPECT_EQ(c.status, 1);
  EXPECT_NE(c.out.find("has no column 'z'; available columns: x, y"), std::string::npos) << c.out;
  EXPECT_FALSE(fs::exists(dir / "out"));

  auto both = run_nfp("density fit --toy rings --data " + p("ok.csv") + " --out " + p("out"));
  EXPECT_NE(both.out.find("exactly one of --data"), std::string::npos) << both.out;
  auto toy = run_nfp("density fit --toy spiral --out " + p("out"));
  EXPECT_NE(toy.out.find("known: two-moons, 8-gaussians, checkerboard, rings"), std::string::npos) << toy.out;
  auto model = run_nfp("density logprob --model " + p("nowhere") + " --data " + p("ok.csv"));
  EXPECT_EQ(model.status, 1);
  EXPECT_NE(model.out.find("is not a model directory"), std::string::npos) << model.out;
}

TEST_F(DensityCli, AFailedRunKeepsTheModelSavedBefore) {
  write("ok.csv", "x,y\n1,2\n3,4\n5,7\n2,2\n");
  ASSERT_EQ(run_nfp("density fit --data " + p("ok.csv") + " --flow affine --layers 2 --hidden 8 --steps 5 --out " + p("m")).status, 0);
  const auto before = fs::last_write_time(dir / "m" / "model.safetensors");
  write("bad.csv", "x,y\n1,2\n3,oops\n");
  EXPECT_NE(run_nfp("density fit --data " + p("bad.csv") + " --steps 5 --out " + p("m")).status, 0);
  EXPECT_EQ(fs::last_write_time(dir / "m" / "model.safetensors"), before);
  size_t entries = 0;
  for (auto& e : fs::directory_iterator(dir)) entries += e.path().filename().string().rfind(".m.tmp", 0) == 0;
  EXPECT_EQ(entries, 0u) << "a temporary output directory was left behind";
}

}  // namespace
}  // namespace nfp
