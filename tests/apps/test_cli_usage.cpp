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
