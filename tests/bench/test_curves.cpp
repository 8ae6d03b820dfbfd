// `nfp bench curves` arithmetic: curve names, the plateau rule, a curve's summary (bench/curve_analysis.cpp).
#include <gtest/gtest.h>

#include "bench_curves.hpp"
#include "nfp/error.hpp"

namespace nfp::bench {
namespace {

TEST(CurveSpec, ParsesEachSamplingForm) {
  auto c = parse_curve_spec("nfp-spline");
  EXPECT_EQ(c.head, "nfp-spline");
  EXPECT_TRUE(c.sampling.empty());
  EXPECT_TRUE(c.strategy.empty());  // the checkpoint's own settings
  c = parse_curve_spec("nfp-spline:sbs-16");
  EXPECT_EQ(c.strategy, "sbs");
  EXPECT_EQ(c.candidates, 16);
  EXPECT_EQ(parse_curve_spec("nina-mlp:sbs").candidates, 128);
  c = parse_curve_spec("nfp-spline:gr-5");
  EXPECT_EQ(c.strategy, "gr");
  EXPECT_EQ(c.gr_steps, 5);
  c = parse_curve_spec("diffusion:ddpm-100");
  EXPECT_EQ(c.name, "diffusion:ddpm-100");
  EXPECT_EQ(c.sampler, "ddpm");
  EXPECT_EQ(c.steps, 100);
  EXPECT_EQ(parse_curve_spec("diffusion:ddim").steps, 0);  // the configured steps
  c = parse_curve_spec("flow-matching:euler-4");
  EXPECT_EQ(c.steps, 4);
  EXPECT_TRUE(c.sampler.empty());
  EXPECT_EQ(parse_curve_spec("regression:sample").strategy, "sample");

  InferenceOptions o;
  o.sigma = 0.5;
  apply_curve_sampling(parse_curve_spec("diffusion:ddpm-100"), o);
  EXPECT_EQ(o.sampler, "ddpm");
  EXPECT_EQ(o.steps, 100);
  EXPECT_EQ(o.sigma, 0.5);  // what a curve does not name stays the checkpoint's
}

TEST(CurveSpec, RefusesWhatDoesNotFitTheHead) {
  for (const char* bad : {"unet", "nfp-spline:ddim-10", "regression:sbs-8", "diffusion:euler-4", "flow-matching:ddpm-100",
                          "nfp-spline:sbs-0", "nfp-spline:sbs-x", "diffusion:ddim-", "diffusion:fast", "nfp-spline:",
                          "diffusion:ddim-1000000000"}) {
    try {
      parse_curve_spec(bad);
      ADD_FAILURE() << bad << " was accepted";
    } catch (const Error& e) {
      const std::string m = e.what();
      EXPECT_NE(m.find(bad), std::string::npos) << m;  // names the curve
      EXPECT_NE(m.find("HEAD:SAMPLING"), std::string::npos) << m;
      EXPECT_EQ(m.find('\n'), std::string::npos) << m;
    }
  }
}

std::vector<CurvePoint> points(const std::vector<int64_t>& successes, int64_t episodes) {
  std::vector<CurvePoint> p;
  for (size_t i = 0; i < successes.size(); ++i) {
    CurvePoint q;
    q.step = int64_t(i + 1) * 1000;
    q.successes = successes[i];
    q.episodes = episodes;
    q.train_cpu_s = double(i + 1) * 100;
    p.push_back(q);
  }
  return p;
}

TEST(CurvePlateau, NeedsTwoWindowsAndNoGainBeyondTheInterval) {
  EXPECT_FALSE(plateaued(points({40, 41, 40, 41, 40}, 50), 3));  // 5 < 2 x 3 evaluations
  EXPECT_TRUE(plateaued(points({40, 41, 40, 41, 40, 40}, 50), 3));
  // 120/150 before (80%, Wilson upper 85.7%), then 135/150 (90%): a gain beyond the interval, keep training
  EXPECT_FALSE(plateaued(points({40, 40, 40, 45, 45, 45}, 50), 3));
  // 128/150 = 85.3% is inside it
  EXPECT_TRUE(plateaued(points({40, 40, 40, 43, 43, 42}, 50), 3));
  // a fall counts as no gain
  EXPECT_TRUE(plateaued(points({45, 45, 45, 30, 30, 30}, 50), 3));
  // below 10% lately: not started, not a plateau (diffusion on handover: 0, 0, 2, then 0, 0, 4%)
  EXPECT_FALSE(plateaued(points({0, 0, 1, 0, 0, 0}, 50), 3));
  EXPECT_FALSE(plateaued(points({0, 0, 1, 0, 0, 2}, 50), 3));
  EXPECT_FALSE(plateaued(points({4, 4, 4, 4, 4, 4}, 50), 3));   // 8%
  EXPECT_TRUE(plateaued(points({5, 5, 5, 5, 5, 5}, 50), 3));    // 10%: judged by the interval again
  // the ceiling
  EXPECT_TRUE(plateaued(points({50, 50}, 50), 1));
  // window 1, rising by one episode in 50: inside the interval
  EXPECT_TRUE(plateaued(points({10, 11}, 50), 1));
  EXPECT_FALSE(plateaued(points({10, 30}, 50), 1));
}

TEST(CurvePlateau, SummaryPoolsTheLastWindowAndFindsNinetyPercent) {
  const auto p = points({5, 20, 36, 44, 45, 46, 45}, 50);
  const auto s = summarize_curve(p, 3);
  EXPECT_NEAR(s.plateau_pc, 100.0 * 136 / 150, 1e-9);
  EXPECT_LT(s.plateau_lo, s.plateau_pc);
  EXPECT_GT(s.plateau_hi, s.plateau_pc);
  EXPECT_EQ(s.last_step, 7000);
  ASSERT_TRUE(s.at_90pc.has_value());
  EXPECT_EQ(s.at_90pc->step, 4000);  // 88% >= 0.9 x 90.7%; 72% is not
  EXPECT_EQ(s.at_90pc->train_cpu_s, 400);
  EXPECT_FALSE(s.plateau_reached);  // 136/150 vs 125/150: 90.7% > the earlier window's upper 88.4%
  EXPECT_FALSE(summarize_curve({}, 3).at_90pc.has_value());
  // all zero: the "plateau" is 0% (not reached: the head never started) and the first evaluation "reaches" 90% of it
  const auto z = summarize_curve(points({0, 0}, 10), 1);
  EXPECT_EQ(z.plateau_pc, 0);
  EXPECT_FALSE(z.plateau_reached);
  ASSERT_TRUE(z.at_90pc.has_value());
  EXPECT_EQ(z.at_90pc->step, 1000);
}

}  // namespace
}  // namespace nfp::bench
