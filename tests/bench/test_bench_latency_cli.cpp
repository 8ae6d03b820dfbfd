// `nfp bench latency` end to end with tiny heads (and 24-px images for the e2e rows): the --json shape, FLOP
// counts that scale as the work does, the plot, and one-line errors for bad flags and configs.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "nfp_cli.hpp"

namespace fs = std::filesystem;

namespace nfp {
namespace {

using test::last_line_json;
using test::run_nfp;

// Every head small enough that a whole run takes a second or two.
const char* kTinyConfig = R"({"seconds": 0, "min_calls": 3, "warmup": 1, "candidates": 4, "gr_steps": 2, "image_size": 24,
  "head_config": {
    "nina-mlp": {"layers": 2, "hidden": 16},
    "nina-transformer": {"layers": 2, "hidden": 16, "depth": 1, "heads": 2},
    "nfp-spline": {"layers": 2, "hidden": 16},
    "diffusion": {"denoiser": "mlp", "layers": 1, "hidden": 16, "train_steps": 20},
    "flow-matching": {"denoiser": "mlp", "layers": 1, "hidden": 16},
    "regression": {"layers": 1, "hidden": 16}}})";

class LatencyCli : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(test::nfp_available()) << "the nfp binary is not built (NFP_BIN)";
    dir = fs::temp_directory_path() /
          ("nfp_latency_cli_" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    std::ofstream(dir / "tiny.json") << kTinyConfig;
  }
  void TearDown() override { fs::remove_all(dir); }
  std::string p(const std::string& name) const { return (dir / name).string(); }
  fs::path dir;
};

TEST_F(LatencyCli, JsonHasEveryRowWithConsistentFigures) {
  auto r = run_nfp("bench latency --config " + p("tiny.json") + " --json --plot " + p("plots"));
  ASSERT_EQ(r.status, 0) << r.out;
  const auto j = last_line_json(r.out);
  ASSERT_TRUE(j.contains("heads") && j["heads"].is_array()) << r.out;
  std::map<std::string, nlohmann::json> rows;
  for (const auto& h : j["heads"]) rows[h.at("name").get<std::string>()] = h;
  const std::set<std::string> expected = {
      "nina-mlp", "nina-mlp-sbs-4", "nina-mlp-gr-2", "nina-transformer", "nina-transformer-sbs-4",
      "nina-transformer-gr-2", "nfp-spline", "nfp-spline-sbs-4", "nfp-spline-gr-2", "diffusion-ddpm-20",
      "diffusion-ddim-10", "flow-matching-4", "flow-matching-10", "regression",
      // end to end: image encoder + head on one camera and state
      "e2e-conv24-nfp-spline", "e2e-conv24-nfp-spline-sbs-4", "e2e-conv24-diffusion-ddim-10",
      "e2e-conv24-flow-matching-4", "e2e-resnet18-24-nfp-spline"};
  std::set<std::string> names;
  for (const auto& [k, v] : rows) names.insert(k);
  EXPECT_EQ(names, expected);
  for (const auto& [name, h] : rows) {
    EXPECT_GT(h.at("params").get<int64_t>(), 0) << name;
    EXPECT_GT(h.at("flops").get<uint64_t>(), 0u) << name;
    EXPECT_GT(h.at("p50_ms").get<double>(), 0) << name;
    EXPECT_GE(h.at("p99_ms").get<double>(), h.at("p50_ms").get<double>()) << name;
    EXPECT_GE(h.at("calls").get<int64_t>(), 3) << name;
  }
  EXPECT_DOUBLE_EQ(rows["nina-mlp"]["ratio_to_flow"].get<double>(), 1.0);
  // The same network runs N times (SBS batch) or K times (sampler steps): matmul FLOPs scale exactly.
  auto mm = [&](const std::string& n) { return double(rows[n]["flops_matmul"].get<uint64_t>()); };
  EXPECT_DOUBLE_EQ(mm("nina-mlp-sbs-4"), 4 * mm("nina-mlp"));
  EXPECT_DOUBLE_EQ(mm("diffusion-ddpm-20"), 2 * mm("diffusion-ddim-10"));
  EXPECT_DOUBLE_EQ(mm("flow-matching-10"), 2.5 * mm("flow-matching-4"));
  EXPECT_GT(mm("nfp-spline-gr-2"), 2 * mm("nfp-spline"));  // GR adds log_prob passes and their backward
  // Heads in a row share one network: the same parameter count.
  EXPECT_EQ(rows["nfp-spline"]["params"], rows["nfp-spline-gr-2"]["params"]);
  // End to end: the same head behind the encoder does the same head work, so the encoder's share of the matmul
  // FLOPs is one number for every conv row, and SBS-4 adds exactly 3 more head samples.
  const double enc = mm("e2e-conv24-nfp-spline") - mm("nfp-spline");
  EXPECT_GT(enc, 0);
  EXPECT_DOUBLE_EQ(mm("e2e-conv24-diffusion-ddim-10") - mm("diffusion-ddim-10"), enc);
  EXPECT_DOUBLE_EQ(mm("e2e-conv24-flow-matching-4") - mm("flow-matching-4"), enc);
  EXPECT_DOUBLE_EQ(mm("e2e-conv24-nfp-spline-sbs-4") - mm("e2e-conv24-nfp-spline"), 3 * mm("nfp-spline"));
  auto conv = [&](const std::string& n) { return double(rows[n]["flops_conv"].get<uint64_t>()); };
  EXPECT_GT(conv("e2e-conv24-nfp-spline"), 0);
  EXPECT_GT(conv("e2e-resnet18-24-nfp-spline"), 10 * conv("e2e-conv24-nfp-spline"));
  // e2e params are the whole policy's: full-width ResNet-18 alone is 11.18 M
  EXPECT_GT(rows["e2e-resnet18-24-nfp-spline"]["params"].get<int64_t>(), 11176512);
  EXPECT_GT(rows["e2e-conv24-nfp-spline"]["params"].get<int64_t>(), rows["nfp-spline"]["params"].get<int64_t>());
  EXPECT_EQ(rows["e2e-conv24-nfp-spline"]["encoder"], "conv");
  EXPECT_EQ(rows["e2e-resnet18-24-nfp-spline"]["encoder"], "resnet18");
  EXPECT_TRUE(rows["nfp-spline"]["encoder"].is_null());
  EXPECT_FALSE(j.contains("end_to_end") && j["end_to_end"].get<std::string>().find("not measured") != std::string::npos);
  // The plot names every row.
  std::ifstream svg(dir / "plots" / "head_latency.svg");
  const std::string text((std::istreambuf_iterator<char>(svg)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text.rfind("<svg", 0), 0u);
  for (const auto& n : expected) EXPECT_NE(text.find(">" + n + "</text>"), std::string::npos) << n;
}

TEST_F(LatencyCli, HeadSubsetAndFlagsOverrideTheConfig) {
  auto r = run_nfp("bench latency --config " + p("tiny.json") +
                   " --heads regression nfp-spline --candidates 3 --image-size 16 --json");
  ASSERT_EQ(r.status, 0) << r.out;
  const auto j = last_line_json(r.out);
  std::set<std::string> names;
  for (const auto& h : j["heads"]) names.insert(h["name"].get<std::string>());
  EXPECT_EQ(names, (std::set<std::string>{"nfp-spline", "nfp-spline-sbs-3", "nfp-spline-gr-2", "regression",
                                          "e2e-conv16-nfp-spline", "e2e-conv16-nfp-spline-sbs-3",
                                          "e2e-resnet18-16-nfp-spline"}));
  EXPECT_TRUE(j["heads"][0]["ratio_to_flow"].is_null());  // the reference row (nina-mlp) is not in the run
  // --no-e2e leaves the head rows only
  r = run_nfp("bench latency --config " + p("tiny.json") + " --heads regression --no-e2e --json");
  ASSERT_EQ(r.status, 0) << r.out;
  names.clear();
  const auto only = last_line_json(r.out);
  for (const auto& h : only["heads"]) names.insert(h["name"].get<std::string>());
  EXPECT_EQ(names, (std::set<std::string>{"regression"}));
}

TEST_F(LatencyCli, BadInputFailsWithOneLineAndWritesNothing) {
  auto expect_error = [&](const std::string& args, const std::string& needle) {
    auto r = run_nfp("bench latency " + args);
    EXPECT_NE(r.status, 0) << args;
    EXPECT_NE(r.out.find(needle), std::string::npos) << args << "\n" << r.out;
    EXPECT_LE(std::count(r.out.begin(), r.out.end(), '\n'), 2) << r.out;
  };
  expect_error("--config " + p("tiny.json") + " --heads nope --plot " + p("plots"), "unknown head 'nope'");
  EXPECT_FALSE(fs::exists(dir / "plots"));
  expect_error("--config " + p("missing.json"), "missing.json");
  std::ofstream(dir / "bad_key.json") << R"({"secs": 1})";
  expect_error("--config " + p("bad_key.json"), "unknown key 'secs'");
  std::ofstream(dir / "bad_head.json") << R"({"head_config": {"nina-mlp": {"layerz": 2}}})";
  expect_error("--config " + p("bad_head.json"), "layerz");
  expect_error("--config " + p("tiny.json") + " --task nowhere", "nowhere");
  expect_error("--threads 0", "threads");
  expect_error("--config " + p("tiny.json") + " --candidates 0", "candidates");
  expect_error("--config " + p("tiny.json") + " --image-size 4", "--image-size: must be a whole number from 8 to 1024");
}

}  // namespace
}  // namespace nfp
