// Usage errors of the `nfp` command, through the built binary: every one exits 2 with one line naming what was
// wrong (the bad subcommand with the valid ones, the bad flag or value); --help and --version exit 0.
#include <gtest/gtest.h>

#include "nfp_cli.hpp"

namespace nfp::test {
namespace {

class CliUsage : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!nfp_available()) GTEST_SKIP() << "nfp binary not built (NFP_BIN)";
  }
  static void expect_usage_error(const std::string& args, const std::string& mentions) {
    const NfpRun r = run_nfp(args);
    EXPECT_EQ(r.status, 2) << "nfp " << args << ": " << r.out;
    expect_one_line_error(r, mentions);
  }
};

TEST_F(CliUsage, AnUnknownSubcommandIsNamedWithTheValidOnes) {
  expect_usage_error("frobnicate", "unknown subcommand 'frobnicate' of `nfp`; its subcommands: ");
  const NfpRun r = run_nfp("frobnicate");
  for (const char* sub : {"train", "eval", "export", "density", "bench"}) EXPECT_NE(r.out.find(sub), std::string::npos) << sub;
  // --help after an unknown subcommand is still an error, not the root's help with exit 0
  expect_usage_error("frobnicate --help", "unknown subcommand 'frobnicate'");
  expect_usage_error("bench frobnicate", "unknown subcommand 'frobnicate' of `nfp bench`; its subcommands: ");
  expect_usage_error("density frobnicate --toy checkerboard", "of `nfp density`");
}

TEST_F(CliUsage, AMissingSubcommandListsTheChoices) {
  expect_usage_error("", "`nfp` needs a subcommand: ");
  expect_usage_error("bench", "`nfp bench` needs a subcommand: ");
}

TEST_F(CliUsage, BadFlagsAndValuesExit2) {
  expect_usage_error("eval --checkpoint x --out y --frobnicate", "--frobnicate");
  expect_usage_error("eval --checkpoint x --out y --episodes many", "--episodes");
  expect_usage_error("eval --out y", "--checkpoint");  // a required option
}

// Numeric flags are checked with bounds before any work: `train --steps 0` / `-5` used to run the default 3,000
// steps, NaN / Inf passed CLI11's PositiveNumber. Each bad value exits 2 with one line naming the flag and the range.
TEST_F(CliUsage, BadNumbersExit2NamingTheFlag) {
  const std::string out = " --out " + (std::filesystem::temp_directory_path() / "nfp_cli_usage_never").string();
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"train --data d.hdf5 --steps 0", "--steps: must be a whole number from 1 to"},
      {"train --data d.hdf5 --steps -5", "--steps: must be a whole number from 1 to"},
      {"train --data d.hdf5 --steps 1e3", "--steps: must be a whole number"},
      {"train --data d.hdf5 --batch 0", "--batch: must be a whole number from 1 to"},
      {"train --data d.hdf5 --lr 0", "--lr: must be a finite number > 0"},
      {"train --data d.hdf5 --lr nan", "--lr: must be a finite number > 0"},
      {"train --data d.hdf5 --lr inf", "--lr: must be a finite number > 0"},
      {"train --data d.hdf5 --horizon 0", "--horizon: must be a whole number from 1 to 1024"},
      {"train --data d.hdf5 --n-action-steps -1", "--n-action-steps"},
      {"train --data d.hdf5 --seed -2", "--seed: must be a whole number from 0"},
      {"train --data d.hdf5 --threads 0", "--threads: must be a whole number from 1 to 1024"},
      {"train --data d.hdf5 --sigma -0.5", "--sigma: must be a finite number >= 0"},
      {"eval --checkpoint c --episodes 0", "--episodes: must be a whole number from 1 to"},
      {"eval --checkpoint c --candidates 0", "--candidates"},
      {"eval --checkpoint c --seed -1", "--seed: must be a whole number from 0 to 18446744073709551615"},
      {"tune --checkpoint c --sigma 0.2,nan", "--sigma: must be a finite number >= 0"},
      {"collect --task push-two-goals --episodes -3", "--episodes"},
      {"density fit --toy rings --bins 1", "--bins: must be a whole number from 2 to 64"},
      {"density fit --toy rings --bound 0", "--bound: must be a finite number > 0"},
      {"density sample --model m -n 0", "--num: must be a whole number from 1 to"},
      {"bench flow --seconds inf", "--seconds: must be a finite number > 0"},
  };
  for (const auto& [args, mentions] : cases) expect_usage_error(args + out, mentions);
  // A long value is cut in the message, not echoed whole.
  const NfpRun r = run_nfp("train --data d.hdf5 --steps " + std::string(5000, '9') + out);
  EXPECT_EQ(r.status, 2);
  expect_one_line_error(r, "(5000 characters)");
  EXPECT_LT(r.out.size(), 300u) << r.out;
}

TEST_F(CliUsage, HelpAndVersionExit0) {
  for (const char* args : {"--help", "--version", "train --help", "bench latency --help"}) {
    const NfpRun r = run_nfp(args);
    EXPECT_EQ(r.status, 0) << args << ": " << r.out;
  }
  // a subcommand's help is its own, not the root's
  EXPECT_NE(run_nfp("eval --help").out.find("--checkpoint"), std::string::npos);
}

}  // namespace
}  // namespace nfp::test
