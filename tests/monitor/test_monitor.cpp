// The monitor's calibration and detection metrics on synthetic traces with known answers: the split-conformal
// false-alarm rate on fresh successful episodes, alarms on shifted and non-finite scores, AUROC / TPR / TNR / lead
// time on hand-made episodes, and the calibration file's round trip and validation.
#include <gtest/gtest.h>

#include <random>

#include "nfp/error.hpp"
#include "nfp/monitor.hpp"

namespace nfp {
namespace {

// A successful episode's trace: a time-varying mean (the score rises as a task's hard phase starts) plus noise
// correlated over time (AR(1)), and a length between 8 and 20 chunks.
ScoreTrace success_trace(std::mt19937_64& g) {
  std::normal_distribution<double> n01(0, 1);
  std::uniform_int_distribution<int> len(8, 20);
  ScoreTrace t;
  double e = n01(g);
  for (int i = 0, n = len(g); i < n; ++i) {
    e = 0.7 * e + 0.71 * n01(g);
    t.push_back(-3.0 + 0.1 * i + (i > 10 ? 0.5 : 0.0) + 0.4 * e);
  }
  return t;
}

TEST(Monitor, FalseAlarmRateOnFreshSuccessesIsAtMostAlpha) {
  std::mt19937_64 g(7);
  for (double alpha : {0.05, 0.1}) {
    std::vector<ScoreTrace> cal;
    for (int i = 0; i < 400; ++i) cal.push_back(success_trace(g));
    const MonitorCalibration c = calibrate_monitor(cal, alpha, "neg_logp", 300000);
    EXPECT_EQ(c.fit_episodes, 200);
    EXPECT_EQ(c.quantile_episodes, 200);
    ASSERT_TRUE(std::isfinite(c.quantile));
    int alarms = 0;
    const int n = 4000;
    for (int i = 0; i < n; ++i) alarms += first_alarm(c, success_trace(g)) >= 0;
    const double rate = double(alarms) / n;
    // Conformal: E[rate] <= alpha (and >= alpha - 1/(n_q + 1)); the spread over calibration draws with 200
    // quantile episodes is about sqrt(alpha (1 - alpha) / 200) = 0.015-0.021, the test draw's 0.004.
    EXPECT_LE(rate, alpha + 0.05) << alpha;
    EXPECT_GE(rate, alpha - 0.05) << alpha;
  }
}

TEST(Monitor, ShiftedAndNonFiniteScoresAlarmAtTheirChunk) {
  std::mt19937_64 g(8);
  std::vector<ScoreTrace> cal;
  for (int i = 0; i < 200; ++i) cal.push_back(success_trace(g));
  const MonitorCalibration c = calibrate_monitor(cal, 0.05, "neg_logp", 0);
  ScoreTrace t(15);
  for (size_t i = 0; i < t.size(); ++i) t[i] = c.mean[std::min(i, c.mean.size() - 1)];  // the band's centre
  EXPECT_EQ(first_alarm(c, t), -1);
  EXPECT_NEAR(max_standardized(c, t), 0.0, 1e-12);
  t[6] = c.threshold(6) + 1e-6;  // just over the threshold at chunk 6
  EXPECT_EQ(first_alarm(c, t), 6);
  t[2] = NAN;  // no score at this chunk (the first chunk's continuation): never an alarm
  EXPECT_EQ(first_alarm(c, t), 6);
  EXPECT_EQ(c.standardized(2, NAN), -INFINITY);
  t[3] = INFINITY;  // an impossible chunk (log p = -inf) always alarms
  EXPECT_EQ(first_alarm(c, t), 3);
  EXPECT_EQ(max_standardized(c, t), INFINITY);
  // past the calibrated length the last chunk's band holds
  EXPECT_EQ(c.threshold(1000), c.threshold(c.mean.size() - 1));
}

TEST(Monitor, TooFewSuccessesForAlphaNeverAlarmAndBadInputIsRefused) {
  std::mt19937_64 g(9);
  std::vector<ScoreTrace> cal;
  for (int i = 0; i < 20; ++i) cal.push_back(success_trace(g));  // 10 quantile episodes: ceil(11 * 0.95) = 11 > 10
  const MonitorCalibration c = calibrate_monitor(cal, 0.05, "neg_logp", 0);
  EXPECT_EQ(c.quantile, INFINITY);
  ScoreTrace high(10, 1e6);
  EXPECT_EQ(first_alarm(c, high), -1);
  EXPECT_THROW(calibrate_monitor({cal[0]}, 0.05, "neg_logp", 0), Error);
  EXPECT_THROW(calibrate_monitor(cal, 0.0, "neg_logp", 0), Error);
  EXPECT_THROW(calibrate_monitor(cal, 0.05, "logp", 0), Error);
  EXPECT_THROW(calibrate_monitor({ScoreTrace(5, NAN), ScoreTrace(5, NAN)}, 0.05, "spread", 0), Error);
}

TEST(Monitor, DetectionMetricsOnKnownEpisodes) {
  // failures score 3, 4, 5 (the one at 3 ties a success); successes 1, 2, 3
  std::vector<DetectionEpisode> e = {{true, 3, true, 10, 40},  {true, 4, true, 5, 25},  {true, 5, false, -1, 30},
                                     {false, 1, false, -1, 50}, {false, 2, false, -1, 50}, {false, 3, true, 20, 50}};
  const DetectionMetrics m = detection_metrics(e);
  EXPECT_EQ(m.failures, 3);
  EXPECT_EQ(m.successes, 3);
  EXPECT_NEAR(m.auroc, (3 + 3 + 2.5) / 9.0, 1e-12);  // 8.5 of 9 pairs, the tie counted half
  EXPECT_NEAR(m.tpr, 2.0 / 3, 1e-12);
  EXPECT_NEAR(m.tnr, 2.0 / 3, 1e-12);
  EXPECT_NEAR(m.false_alarm_rate, 1.0 / 3, 1e-12);
  EXPECT_NEAR(m.balanced_accuracy, 2.0 / 3, 1e-12);
  EXPECT_NEAR(m.mean_lead_steps, (30 + 20) / 2.0, 1e-12);
  // one class only: no AUROC or balanced accuracy
  const DetectionMetrics only = detection_metrics({e[3], e[4]});
  EXPECT_TRUE(std::isnan(only.auroc));
  EXPECT_TRUE(std::isnan(only.tpr));
  EXPECT_NEAR(only.tnr, 1.0, 1e-12);
}

TEST(Monitor, CalibrationFileRoundTripsAndRefusesBadValues) {
  std::mt19937_64 g(10);
  std::vector<ScoreTrace> cal;
  for (int i = 0; i < 60; ++i) cal.push_back(success_trace(g));
  MonitorCalibration c = calibrate_monitor(cal, 0.1, "consistency", 5);
  c.task = "lift";
  c.inference = {{"strategy", "sbs"}};
  const MonitorCalibration back = json(c).get<MonitorCalibration>();
  EXPECT_EQ(back.mean, c.mean);
  EXPECT_EQ(back.scale, c.scale);
  EXPECT_EQ(back.quantile, c.quantile);
  EXPECT_EQ(back.score, "consistency");
  EXPECT_EQ(back.inference, c.inference);
  json bad = c;
  bad["scale"][0] = 0.0;
  EXPECT_THROW(bad.get<MonitorCalibration>(), Error);
  bad = c;
  bad["alpah"] = 0.1;
  EXPECT_THROW(bad.get<MonitorCalibration>(), Error);
  bad = c;
  bad["score"] = "nope";
  EXPECT_THROW(bad.get<MonitorCalibration>(), Error);
  bad = c;
  bad["quantile"] = nullptr;  // written for an infinite quantile
  EXPECT_EQ(bad.get<MonitorCalibration>().quantile, INFINITY);
}

}  // namespace
}  // namespace nfp
