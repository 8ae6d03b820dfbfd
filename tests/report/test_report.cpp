// `nfp report` without a browser: what the page finds, what it says about broken inputs, the interval it shows,
// and the command's file handling. The page in a real browser: test_report_browser.cpp.
#include <gtest/gtest.h>

#include <filesystem>

#include "nfp/atomic_file.hpp"
#include "nfp/error.hpp"
#include "nfp/monitor.hpp"
#include "nfp/report.hpp"
#include "nfp_cli.hpp"
#include "report/report_inputs.hpp"
#include "report_fixtures.hpp"

namespace fs = std::filesystem;

namespace nfp {
namespace {

class Report : public ::testing::Test {
 protected:
  fs::path dir;
  void SetUp() override {
    dir = fs::temp_directory_path() / ("nfp_report_" + unique_suffix());
    fs::create_directories(dir);
  }
  void TearDown() override { fs::remove_all(dir); }
  ReportSummary report(const std::vector<fs::path>& inputs) {
    ReportOptions o;
    o.inputs = inputs;
    o.out = dir / "report";
    return write_report(o);
  }
};

// Reference values: the Wilson score interval (z = 1.96) of k successes in n, computed by hand / R's prop.test
// without continuity correction; tolerance 0.01 percentage points (the page shows one decimal).
TEST(WilsonInterval, MatchesReferenceValues) {
  auto ci = wilson_interval(5, 10);
  EXPECT_NEAR(ci.lo, 23.66, 0.01);
  EXPECT_NEAR(ci.hi, 76.34, 0.01);
  ci = wilson_interval(0, 10);
  EXPECT_NEAR(ci.lo, 0.0, 1e-9);
  EXPECT_NEAR(ci.hi, 27.75, 0.01);
  ci = wilson_interval(50, 50);
  EXPECT_NEAR(ci.lo, 92.87, 0.01);
  EXPECT_NEAR(ci.hi, 100.0, 1e-9);
  ci = wilson_interval(0, 0);
  EXPECT_EQ(ci.lo, 0);
  EXPECT_EQ(ci.hi, 100);
}

TEST(ReportCsv, QuotedCellsAndLineEndings) {
  const auto t = report::read_text_csv("a,\"b,c\",\"say \"\"hi\"\"\"\r\n1,,3\n\n4,5,6", "t.csv");
  ASSERT_EQ(t.size(), 3u);
  EXPECT_EQ(t[0], (std::vector<std::string>{"a", "b,c", "say \"hi\""}));
  EXPECT_EQ(t[1], (std::vector<std::string>{"1", "", "3"}));
  EXPECT_EQ(t[2], (std::vector<std::string>{"4", "5", "6"}));
}

// A quote that never closes (a damaged byte in a row) is damage like any other: the rows before it are kept.
TEST_F(Report, MetricsWithAStrayQuoteKeepTheRowsBeforeIt) {
  test::write_text(dir / "metrics.csv", "step,loss\n10,1.5\n20,1.2\n30,\"1.0\n40,0.9\n");
  const auto m = report::read_metrics(dir / "metrics.csv");
  EXPECT_EQ(m.rows.size(), 2u);
  EXPECT_NE(m.problem.find("metrics.csv line 4 is damaged"), std::string::npos) << m.problem;
  EXPECT_NE(m.problem.find("the curves show the 2 rows before it"), std::string::npos) << m.problem;
}

TEST_F(Report, FindsRunsAndAttachesEvaluationsByCheckpoint) {
  test::make_run(dir / "demo" / "flow");
  test::make_run(dir / "demo" / "regression");
  write_json_file(dir / "demo" / "eval_flow.json", test::make_eval((dir / "demo" / "flow").string(), {true, false, true, true}));
  // evaluated from another working directory: the recorded path is relative, the run's name still matches
  write_json_file(dir / "demo" / "eval_regression.json", test::make_eval("elsewhere/regression/checkpoint", {false, false}));
  test::write_text(dir / "demo" / "notes.json", R"({"not": "an evaluation"})");  // ignored while searching
  const auto s = report({dir / "demo"});
  EXPECT_EQ(s.runs, 2);
  EXPECT_EQ(s.evals, 2);
  EXPECT_TRUE(s.problems.empty()) << s.problems.front();
  const std::string html = read_file(s.index);
  EXPECT_EQ(test::count_of(html, "<section class=\"run\""), 2u);
  EXPECT_NE(html.find("data-run=\"flow\""), std::string::npos);
  EXPECT_NE(html.find("data-run=\"regression\""), std::string::npos);
  // 3 of 4: 75.0% with its Wilson interval [30.1, 95.4]
  EXPECT_NE(html.find("<b>75.0%</b> [30.1, 95.4] (3 / 4)"), std::string::npos);
  EXPECT_NE(html.find("<b>0.0%</b> [0.0, 65.8] (0 / 2)"), std::string::npos);
  EXPECT_TRUE(fs::exists(dir / "report" / "assets" / "run0_loss.svg"));
  EXPECT_TRUE(fs::exists(dir / "report" / "assets" / "run0_lr.svg"));
  EXPECT_TRUE(fs::exists(dir / "report" / "assets" / "success_vs_latency.svg"));
  EXPECT_NE(html.find("class=\"comparison\""), std::string::npos);
}

TEST_F(Report, VideosAreCopiedFirstFailureFirstSuccessThenFailures) {
  test::make_run(dir / "run");
  for (int i = 0; i < 4; ++i) test::write_text(dir / "videos" / ("episode_" + std::to_string(i) + ".mp4"), "mp4 " + std::to_string(i));
  write_json_file(dir / "run" / "eval_info.json",
                  test::make_eval((dir / "run").string(), {true, true, false, false}, 4, dir / "videos"));
  const auto s = report({dir / "run"});
  EXPECT_EQ(s.videos, 4);
  const std::string html = read_file(s.index);
  const auto at = [&](int ep) { return html.find("_episode_" + std::to_string(ep) + ".mp4"); };
  ASSERT_NE(at(2), std::string::npos);
  EXPECT_LT(at(2), at(0));  // first failure (2), first success (0), the other failure (3), the other success (1)
  EXPECT_LT(at(0), at(3));
  EXPECT_LT(at(3), at(1));
  EXPECT_EQ(read_file(dir / "report" / "assets" / "run0_eval0_episode_3.mp4"), "mp4 3");
}

TEST_F(Report, BrokenInputsAreSaidForTheirRunNotFatal) {
  test::make_run(dir / "no_eval");
  test::make_run(dir / "truncated", 6);
  {  // a metrics file cut in the middle of its 4th row
    const std::string m = read_file(dir / "truncated" / "metrics.csv");
    size_t cut = 0;
    for (int line = 0; line < 4; ++line) cut = m.find('\n', cut) + 1;
    test::write_text(dir / "truncated" / "metrics.csv", m.substr(0, cut + 4));
  }
  write_json_file(dir / "truncated" / "eval_info.json",
                  test::make_eval((dir / "truncated").string(), {false, true}, 2, dir / "gone"));  // videos missing
  test::write_text(dir / "bad_eval.json", "{\"aggregated\": {");
  const auto s = report({dir / "no_eval", dir / "truncated", dir / "bad_eval.json"});
  const std::string html = read_file(s.index);
  auto said = [&](const std::string& what) {
    EXPECT_NE(html.find(what), std::string::npos) << what;
    EXPECT_TRUE(std::any_of(s.problems.begin(), s.problems.end(), [&](const auto& p) { return p.find(what) != std::string::npos; }))
        << what;
  };
  said("no evaluation found");
  said("metrics.csv line 5 is damaged");
  said("the curves show the 3 rows before it");
  said("video of episode 0 (failure) is missing");
  said("bad_eval.json could not be read");
  EXPECT_TRUE(fs::exists(dir / "report" / "assets" / "run1_loss.svg"));  // the rows before the damage are drawn
  EXPECT_EQ(s.videos, 0);
}

TEST_F(Report, NothingToReportOrAMissingInputIsAnErrorAndLeavesOutAlone) {
  fs::create_directories(dir / "empty");
  test::write_text(dir / "report" / "index.html", "previous");
  EXPECT_THROW(report({dir / "empty"}), Error);
  EXPECT_THROW(report({dir / "does_not_exist"}), Error);
  EXPECT_EQ(read_file(dir / "report" / "index.html"), "previous");
}

// An evaluation run with --monitor: its detection summary and a chart of the score traces against the calibrated
// threshold; an impossible chunk (+infinity, written as 1e300) is left off the axis, its alarm named in the legend.
TEST_F(Report, MonitorSummaryAndTracesAgainstTheThreshold) {
  test::make_run(dir / "run");
  MonitorCalibration cal;
  cal.mean = {1.0, 2.0};
  cal.scale = {0.5, 0.5};
  cal.quantile = 2.0;
  cal.alpha = 0.05;
  json cal_json = cal;
  write_json_file(dir / "run" / "checkpoint" / "monitor.json", cal_json);
  json info = test::make_eval((dir / "run").string(), {true, false, false});
  info["aggregated"]["monitor"] = {{"score", "neg_logp"}, {"alpha", 0.05},     {"alarms", 2},
                                   {"auroc", 0.875},      {"tpr", 1.0},        {"false_alarm_rate", 0.0},
                                   {"mean_lead_steps", 6.5}, {"failures", 2}, {"successes", 1}};
  const std::vector<std::vector<double>> traces = {{1.1, 2.2, 2.1}, {1.0, 3.5, 4.0}, {1.2, 1e300, 2.0}};
  for (size_t i = 0; i < traces.size(); ++i) {
    auto& e = info["per_episode"][i];
    e["scores"] = {{"neg_logp", traces[i]}};
    e["chunk_steps"] = {0, 2, 4};
    if (i > 0) e["alarm_step"] = 2;
  }
  write_json_file(dir / "run" / "eval_info.json", info);
  const auto s = report({dir / "run"});
  EXPECT_TRUE(s.problems.empty()) << s.problems.front();
  const std::string html = read_file(s.index);
  EXPECT_NE(html.find("Monitor <b>neg_logp</b> (alpha 0.05): alarms in 2 episodes; false-alarm rate 0.000, failures "
                      "caught 1.000, mean lead 6.5 steps, AUROC 0.875"),
            std::string::npos);
  const std::string svg = read_file(dir / "report" / "assets" / "run0_eval0_monitor.svg");
  EXPECT_NE(svg.find("threshold (alpha 0.05)"), std::string::npos);
  EXPECT_NE(svg.find("ep 1 failure, alarm @2"), std::string::npos);
  EXPECT_NE(svg.find("ep 0 success"), std::string::npos);
  EXPECT_EQ(svg.find("e+300"), std::string::npos);  // the impossible chunk is not a point on the axis
  EXPECT_EQ(svg.find("1e300"), std::string::npos);
}

TEST_F(Report, BenchDirectoryTableChartsAndItsCells) {
  test::write_text(dir / "suite" / "results.csv", "task,head,success_pc\npush-two-goals,nfp-spline,85\npush-two-goals,\"a,b\",40\n");
  test::write_text(dir / "suite" / "results.md", "# Suite\n\nProfile quick: 100 demos, 800 steps.\n\n| t |\n");
  test::write_text(dir / "suite" / "latency_vs_success.svg", "<svg xmlns=\"http://www.w3.org/2000/svg\"/>");
  // a cell's run and its evaluation, laid out as `nfp bench suite` writes them
  test::make_run(dir / "suite" / "runs" / "push-two-goals" / "nfp-spline");
  write_json_file(dir / "suite" / "evals" / "push-two-goals" / "nfp-spline.json",
                  test::make_eval((dir / "suite" / "runs" / "push-two-goals" / "nfp-spline").string(), {true, true}));
  const auto s = report({dir / "suite"});
  EXPECT_EQ(s.benches, 1);
  EXPECT_EQ(s.runs, 1);
  EXPECT_EQ(s.evals, 1);
  EXPECT_TRUE(s.problems.empty()) << s.problems.front();
  const std::string html = read_file(s.index);
  EXPECT_NE(html.find("<td>a,b</td>"), std::string::npos);
  EXPECT_NE(html.find("Profile quick: 100 demos, 800 steps."), std::string::npos);
  EXPECT_TRUE(fs::exists(dir / "report" / "assets" / "bench0_latency_vs_success.svg"));
}

TEST_F(Report, HostileNamesAreEscaped) {
  test::make_run(dir / "<script>x");
  write_json_file(dir / "<script>x" / "eval_info.json", test::make_eval((dir / "<script>x").string(), {true}));
  const std::string html = read_file(report({dir}).index);
  EXPECT_EQ(html.find("<script>"), std::string::npos);
  EXPECT_NE(html.find("&lt;script&gt;x"), std::string::npos);
}

TEST_F(Report, CommandRefusesAnExistingOutputWithoutForce) {
  if (!test::nfp_available()) GTEST_SKIP() << "NFP_BIN not set (run under CTest)";
  test::make_run(dir / "run");
  write_json_file(dir / "run" / "eval_info.json", test::make_eval((dir / "run").string(), {true, false}));
  const std::string out = (dir / "report").string();
  auto r = test::run_nfp("report " + (dir / "run").string() + " --out " + out + " --json");
  ASSERT_EQ(r.status, 0) << r.out;
  const auto j = test::last_line_json(r.out);
  EXPECT_EQ(j["runs"], 1);
  EXPECT_EQ(j["evals"], 1);
  r = test::run_nfp("report " + (dir / "run").string() + " --out " + out);
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_NE(r.out.find("--force"), std::string::npos);
  r = test::run_nfp("report " + (dir / "nope").string() + " --out " + (dir / "r2").string());
  test::expect_one_line_error(r, "does not exist");
  EXPECT_FALSE(fs::exists(dir / "r2"));
  EXPECT_EQ(test::run_nfp("report " + (dir / "run").string() + " --out " + out + " --force").status, 0);
}

}  // namespace
}  // namespace nfp
