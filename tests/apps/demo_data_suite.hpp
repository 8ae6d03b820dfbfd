// The scratch folder of a test suite that runs the `nfp` binary on a small dataset: made once per suite under the
// temporary directory with six collected push-two-goals demonstrations (d.hdf5, seeds 0..5) and the tiny run config
// (tiny.json, nfp_cli.hpp's kTinyRunConfig), removed after the suite. A suite derives from it with its own name:
//   class KillSafety : public test::DemoDataSuite<KillSafety> {
//    public:
//     static constexpr const char* kFolder = "nfp_kill_";   // + the test process's pid
//   };
//   TEST_F(KillSafety, ...) { run_nfp("train --data " + p("d.hdf5") + ...); }
#pragma once
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "nfp_cli.hpp"

namespace nfp::test {

template <class Suite>
class DemoDataSuite : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = std::filesystem::temp_directory_path() / (Suite::kFolder + std::to_string(::getpid()));
    std::filesystem::remove_all(root_);
    std::filesystem::create_directories(root_);
    std::ofstream(root_ / "tiny.json") << kTinyRunConfig;
    collected_ = run_nfp("collect --task push-two-goals --episodes 6 --seed 0 --out " + p("d.hdf5"));
  }
  static void TearDownTestSuite() { std::filesystem::remove_all(root_); }
  void SetUp() override {
    ASSERT_TRUE(nfp_available()) << "the nfp binary is not built (NFP_BIN)";
    ASSERT_EQ(collected_.status, 0) << collected_.out;
  }
  static std::string p(const std::string& name) { return (root_ / name).string(); }

  static inline std::filesystem::path root_;
  static inline NfpRun collected_;
};

}  // namespace nfp::test
