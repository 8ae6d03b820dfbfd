// `nfp density` end to end through the real binary: files written, --json results, one-line errors, and
// failed runs that leave nothing behind.
#include <gtest/gtest.h>

#include <stdlib.h>

#include <algorithm>
#include <cmath>
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

// A CSV as Python's csv.writer(quoting=csv.QUOTE_ALL) writes it: every name and number quoted, CRLF; a name
// holding a comma is quoted in --columns as in the file.
TEST_F(DensityCli, QuotedCsvFromPythonSelectsColumnsByName) {
  std::string csv = "\"x\",\"y\",\"speed, m/s\"\r\n";
  for (int i = 0; i < 200; ++i)
    csv += "\"" + std::to_string(std::sin(i * 1.3)) + "\",\"" + std::to_string(std::cos(i * 0.7)) + "\",\"" +
           std::to_string(0.01 * i) + "\"\r\n";
  write("quoted.csv", csv);
  auto r = run_nfp("density fit --data " + p("quoted.csv") + " --columns 'x,\"speed, m/s\"' --flow affine --layers 2 "
                   "--hidden 16 --steps 5 --out " + p("m") + " --json");
  ASSERT_EQ(r.status, 0) << r.out;
  auto s = run_nfp("density sample --model " + p("m") + " -n 5 --out " + p("s.csv"));
  ASSERT_EQ(s.status, 0) << s.out;
  EXPECT_EQ(read_csv(dir / "s.csv").columns, (std::vector<std::string>{"x", "speed, m/s"}));
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

// --threads on every subcommand: the default (1) and an explicit --threads 1 fit bit-identical models from a CSV
// (one thread: the same ops in the same order); 2 threads are accepted and agree closely (reductions may split
// differently, so 1e-3 nats after 30 steps, not bit-identity). Bad values: one line, a usage exit code (not 1).
TEST_F(DensityCli, ThreadsOnEverySubcommand) {
  std::string csv = "x,y\n";
  for (int i = 0; i < 400; ++i) csv += std::to_string(std::sin(i * 0.37)) + "," + std::to_string(std::cos(i * 1.3) + 0.1 * i / 400.0) + "\n";
  write("d.csv", csv);
  const std::string fit = "density fit --data " + p("d.csv") + " --flow affine --layers 2 --hidden 16 --steps 30 --json --out ";
  auto def = run_nfp(fit + p("m0"));
  auto one = run_nfp(fit + p("m1") + " --threads 1");
  auto two = run_nfp(fit + p("m2") + " --threads 2");
  ASSERT_EQ(def.status, 0) << def.out;
  ASSERT_EQ(one.status, 0) << one.out;
  ASSERT_EQ(two.status, 0) << two.out;
  EXPECT_EQ(last_line_json(def.out)["train_nll"], last_line_json(one.out)["train_nll"]);
  EXPECT_NEAR(last_line_json(two.out)["train_nll"].get<double>(), last_line_json(one.out)["train_nll"].get<double>(), 1e-3);
  EXPECT_EQ(run_nfp("density logprob --model " + p("m1") + " --data " + p("d.csv") + " --threads 2").status, 0);
  EXPECT_EQ(run_nfp("density sample --model " + p("m1") + " -n 10 --out " + p("s.csv") + " --threads 2").status, 0);

  const std::vector<std::string> commands = {fit + p("bad"), "density logprob --model " + p("m1") + " --data " + p("d.csv"),
                                             "density sample --model " + p("m1") + " -n 10 --out " + p("s2.csv")};
  for (const auto& cmd : commands)
    for (const std::string bad : {"0", "-1", "two"}) {
      auto r = run_nfp(cmd + " --threads " + bad);
      EXPECT_GE(r.status, 2) << cmd << " --threads " << bad << ": a usage error, not a runtime one\n" << r.out;
      EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;
      EXPECT_EQ(r.out.rfind("nfp: error: --threads", 0), 0u) << r.out;
    }
  EXPECT_FALSE(fs::exists(dir / "bad"));
  EXPECT_FALSE(fs::exists(dir / "s2.csv"));
  // More than one thread: libgomp's idle threads sleep (spin count 0) unless the user chose otherwise; one thread
  // keeps libgomp's default. OMP_DISPLAY_ENV makes libgomp print what it uses (other OpenMP runtimes: skipped).
  ::setenv("OMP_DISPLAY_ENV", "verbose", 1);
  auto two_env = run_nfp("density sample --model " + p("m1") + " -n 10 --out " + p("s.csv") + " --threads 2");
  auto one_env = run_nfp("density sample --model " + p("m1") + " -n 10 --out " + p("s.csv"));
  ::setenv("OMP_WAIT_POLICY", "ACTIVE", 1);
  auto user_env = run_nfp("density sample --model " + p("m1") + " -n 10 --out " + p("s.csv") + " --threads 2");
  ::unsetenv("OMP_WAIT_POLICY");
  ::unsetenv("OMP_DISPLAY_ENV");
  if (two_env.out.find("GOMP_SPINCOUNT") != std::string::npos) {
    EXPECT_NE(two_env.out.find("GOMP_SPINCOUNT = '0'"), std::string::npos) << two_env.out;
    EXPECT_EQ(one_env.out.find("GOMP_SPINCOUNT = '0'"), std::string::npos) << one_env.out;
    EXPECT_NE(user_env.out.find("OMP_WAIT_POLICY = 'ACTIVE'"), std::string::npos) << user_env.out;
  }
  auto help = run_nfp("density logprob --help");
  EXPECT_NE(help.out.find("default 1"), std::string::npos) << help.out;
}

// Never a NaN result with exit 0, never an unloadable model: data near +-1e308 (its statistics overflow), a row
// far outside the fit, samples that overflow.
TEST_F(DensityCli, NonFiniteResultsAreErrorsNotOutput) {
  write("huge.csv", "x,y\n1e308,1\n-1e308,2\n1e308,3\n-1e308,5\n");
  auto r = run_nfp("density fit --data " + p("huge.csv") + " --steps 5 --out " + p("huge"));
  expect_one_line_error(r, "column 'x' cannot be standardized");
  EXPECT_FALSE(fs::exists(dir / "huge"));
  write("ok.csv", "x,y\n1,2\n3,4\n5,7\n2,2\n");
  ASSERT_EQ(run_nfp("density fit --data " + p("ok.csv") + " --flow affine --layers 2 --hidden 8 --steps 5 --out " + p("m")).status, 0);
  write("far.csv", "x,y\n1,2\n1e30,2\n");
  r = run_nfp("density logprob --model " + p("m") + " --data " + p("far.csv") + " --out " + p("lp.csv"));
  expect_one_line_error(r, "'" + p("far.csv") + "' data row 2: its log-likelihood is not finite");
  EXPECT_FALSE(fs::exists(dir / "lp.csv"));
  // A hand-edited model whose statistics are not finite is refused at load, naming the key.
  fs::copy(dir / "m", dir / "m_edit", fs::copy_options::recursive);
  auto cfg = nlohmann::json::parse(std::ifstream(dir / "m_edit" / "config.json"));
  cfg["normalization"]["std"][0] = 0.0;
  write("m_edit/config.json", cfg.dump());
  r = run_nfp("density sample --model " + p("m_edit") + " -n 3 --out " + p("s.csv"));
  expect_one_line_error(r, "normalization.std holds a value that is not finite and > 0");
  EXPECT_FALSE(fs::exists(dir / "s.csv"));
}

TEST_F(DensityCli, AFailedRunKeepsTheModelSavedBefore) {
  write("ok.csv", "x,y\n1,2\n3,4\n5,7\n2,2\n");
  ASSERT_EQ(run_nfp("density fit --data " + p("ok.csv") + " --flow affine --layers 2 --hidden 8 --steps 5 --out " + p("m")).status, 0);
  const auto before = fs::last_write_time(dir / "m" / "model.safetensors");
  write("bad.csv", "x,y\n1,2\n3,oops\n");
  // Without --force an existing model is not replaced at all: a usage error, before any work.
  auto r = run_nfp("density fit --data " + p("ok.csv") + " --steps 5 --out " + p("m"));
  EXPECT_EQ(r.status, 2) << r.out;
  expect_one_line_error(r, "already exists; pass --force to replace it");
  // With --force a failed fit still keeps it.
  EXPECT_NE(run_nfp("density fit --data " + p("bad.csv") + " --steps 5 --force --out " + p("m")).status, 0);
  EXPECT_EQ(fs::last_write_time(dir / "m" / "model.safetensors"), before);
  size_t entries = 0;
  for (auto& e : fs::directory_iterator(dir)) entries += e.path().filename().string().rfind(".m.tmp", 0) == 0;
  EXPECT_EQ(entries, 0u) << "a temporary output directory was left behind";
}

}  // namespace
}  // namespace nfp
