// `nfp bench runtime --weights` end to end (a short run of the default model): one entry per requested
// precision, the top level keeping the f32 figures, fewer weight bytes at lower precision, and a one-line
// error for an unknown precision.
#include <gtest/gtest.h>

#include <algorithm>

#include "nfp_cli.hpp"

namespace nfp {
namespace {

TEST(RuntimeBenchCli, WeightsListedAreMeasuredAndTopLevelStaysF32) {
  ASSERT_TRUE(test::nfp_available()) << "the nfp binary is not built (NFP_BIN)";
  auto r = test::run_nfp("bench runtime --rounds 1 --batch 4 --calls 5 --weights int8,f32 --json");
  ASSERT_EQ(r.status, 0) << r.out;
  const auto j = test::last_line_json(r.out);
  ASSERT_TRUE(j.contains("precisions")) << r.out;
  const auto& p = j["precisions"];
  EXPECT_EQ(p.size(), 2u);
  ASSERT_TRUE(p.contains("f32") && p.contains("int8")) << p.dump();
  EXPECT_EQ(j["weights"], "f32");
  EXPECT_EQ(j["max_abs_diff"], p["f32"]["max_abs_diff"]);
  EXPECT_EQ(j["speedup_batch1"], p["f32"]["speedup_batch1"]);
  EXPECT_LE(p["f32"]["max_abs_diff"].get<double>(), 1e-4);  // f32 keeps libtorch's agreement
  // int8: 1 byte per conditioner weight (+ a 4-byte scale per row) against 4; PLU stays f32.
  EXPECT_LT(p["int8"]["weight_mb"].get<double>(), 0.3 * p["f32"]["weight_mb"].get<double>());
  EXPECT_GT(p["int8"]["max_abs_diff"].get<double>(), 0.0);
}

TEST(RuntimeBenchCli, UnknownWeightsFailWithOneLine) {
  ASSERT_TRUE(test::nfp_available()) << "the nfp binary is not built (NFP_BIN)";
  auto r = test::run_nfp("bench runtime --weights f32,fp8");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("--weights: unknown precision 'fp8'; expected f32, bf16, int8 or w8a8"), std::string::npos) << r.out;
  EXPECT_LE(std::count(r.out.begin(), r.out.end(), '\n'), 2) << r.out;
}

}  // namespace
}  // namespace nfp
