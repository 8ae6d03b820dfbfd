// The SVG writer: well-formed output, one mark per datum, escaped labels, log axes, and refused bad input.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "nfp/error.hpp"
#include "nfp/svg_chart.hpp"
#include "report_fixtures.hpp"

namespace nfp {
namespace {

TEST(SvgPlot, BarChartHasOneRectPerBarAndEscapesLabels) {
  BarChart c{"t", "ms", {{"a<b", 1.0}, {"c&d", 10.0}, {"e", 100.0}}, true, {}};
  const auto s = svg_bar_chart(c);
  EXPECT_EQ(s.rfind("<svg", 0), 0u);
  EXPECT_NE(s.find("</svg>"), std::string::npos);
  EXPECT_EQ(test::count_of(s, "<rect"), 1 + 3u);  // background + bars
  EXPECT_NE(s.find("a&lt;b"), std::string::npos);
  EXPECT_NE(s.find("c&amp;d"), std::string::npos);
  EXPECT_EQ(s.find("a<b"), std::string::npos);
  // log axis 1..100: ticks at 1, 10, 100
  EXPECT_NE(s.find(">100</text>"), std::string::npos);
  EXPECT_NE(s.find(">10</text>"), std::string::npos);
}

TEST(SvgPlot, BarHeightsAreProportionalOnALinearAxis) {
  BarChart c{"t", "%", {{"x", 50.0}, {"y", 100.0}}, false, {}};
  const auto s = svg_bar_chart(c);
  auto height = [&](size_t nth) {
    size_t i = 0;
    for (size_t k = 0; k <= nth; ++k) i = s.find("<rect x=", i + 1);
    const auto h = s.find("height=\"", i) + 8;
    return std::stod(s.substr(h, s.find('"', h) - h));
  };
  EXPECT_NEAR(height(1) / height(0), 2.0, 0.1);  // the axis reaches 105 (5% headroom), from 0
}

TEST(SvgPlot, ScatterAndLines) {
  ScatterPlot p{"s", "ms", "%", {{"a", 1, 50}, {"b", 100, 90}}, true};
  EXPECT_EQ(test::count_of(svg_scatter(p), "<circle"), 2u);
  LineChart l{"l", "demos", "%", {{"flow", {10, 50, 200}, {20, 60, 90}, {}, {}}, {"diffusion", {10, 50}, {10, 40}, {}, {}}}, false};
  const auto s = svg_line_chart(l);
  EXPECT_EQ(test::count_of(s, "<polyline"), 2u);
  EXPECT_EQ(test::count_of(s, "<circle"), 5u);  // a marker per point
  EXPECT_NE(s.find(">diffusion</text>"), std::string::npos);
}

TEST(SvgPlot, LineWhiskersSpanLoToHi) {
  // y axis from the data: whiskers 0..100 must fit, and a whisker's pixel length is proportional to hi - lo
  LineChart l{"l", "demos", "%", {{"flow", {10, 20}, {50, 50}, {0, 40}, {100, 60}}}, false};
  const auto s = svg_line_chart(l);
  std::vector<double> lengths;
  for (size_t i = s.find("stroke-width=\"1.5\""); i != std::string::npos; i = s.find("stroke-width=\"1.5\"", i + 1)) {
    const size_t at = s.rfind("<line", i);
    auto attr = [&](const std::string& name) {
      const size_t b = s.find(name + "=\"", at) + name.size() + 2;
      return std::stod(s.substr(b, s.find('"', b) - b));
    };
    lengths.push_back(std::abs(attr("y2") - attr("y1")));
  }
  ASSERT_EQ(lengths.size(), 2u);
  EXPECT_NEAR(lengths[0] / lengths[1], 100.0 / 20.0, 0.05);
  LineChart bad{"l", "x", "y", {{"b", {1, 2}, {1, 2}, {0}, {3}}}, false};
  EXPECT_THROW(svg_line_chart(bad), Error);
}

TEST(SvgPlot, LinearTicksNeverPrintMinusZeroOrRoundingDust) {
  // an axis padded below 0 (5% of the range): its ticks are 0, 20, ... exactly, not -0 or 1e-15
  LineChart l{"l", "x", "%", {{"a", {0, 1, 2}, {0, 33.3, 100}, {}, {}}}, false};
  const auto s = svg_line_chart(l);
  EXPECT_NE(s.find(">0</text>"), std::string::npos);
  EXPECT_EQ(s.find(">-0</text>"), std::string::npos);
  EXPECT_EQ(s.find("e-1"), std::string::npos);  // 1e-15 and the like (%.4g)
  EXPECT_EQ(s.find("e-0"), std::string::npos);
}

TEST(SvgPlot, LogAxisWithoutAPositiveValueIsEmptyNotEndless) {
  // x unknown (NaN) everywhere on a log axis: a chart with no line, not a tick loop from log10(0)
  LineChart l{"l", "cpu s", "%", {{"a", {NAN, NAN}, {10, 20}, {}, {}}}, true};
  const auto s = svg_line_chart(l);
  EXPECT_EQ(s.rfind("<svg", 0), 0u);
  EXPECT_LT(s.size(), 20000u);
}

TEST(SvgPlot, LineBandsOutlineLoAndHi) {
  // bands: one polygon per series, through (x, hi) forwards and (x, lo) backwards; no whiskers
  LineChart l{"l", "cpu s", "%", {{"flow", {10, 20, 30}, {50, 60, 70}, {40, 50, 60}, {60, 70, 80}}}, false, true, true};
  const auto s = svg_line_chart(l);
  EXPECT_EQ(test::count_of(s, "<polygon"), 1u);
  EXPECT_EQ(test::count_of(s, "stroke-width=\"1.5\""), 0u);
  const size_t b = s.find("points=\"", s.find("<polygon")) + 8;
  std::vector<std::pair<double, double>> pts;
  std::string list = s.substr(b, s.find('"', b) - b);
  for (size_t i = 0; i < list.size();) {
    const size_t comma = list.find(',', i), space = list.find(' ', comma);
    pts.emplace_back(std::stod(list.substr(i, comma - i)), std::stod(list.substr(comma + 1, space - comma - 1)));
    i = space + 1;
  }
  ASSERT_EQ(pts.size(), 6u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_DOUBLE_EQ(pts[size_t(i)].first, pts[size_t(5 - i)].first);  // the same x going out and back
    EXPECT_LT(pts[size_t(i)].second, pts[size_t(5 - i)].second);       // hi above lo (smaller pixel y)
  }
  EXPECT_LT(pts[0].first, pts[1].first);
}

TEST(SvgPlot, XmlEscapeCoversTextAndBothQuotes) {
  EXPECT_EQ(xml_escape("a<b>&\"c\"'d'"), "a&lt;b&gt;&amp;&quot;c&quot;&#39;d&#39;");
  EXPECT_EQ(xml_escape("plain 1.5 ms"), "plain 1.5 ms");
}

TEST(SvgPlot, RefusesBadInput) {
  EXPECT_THROW(svg_bar_chart(BarChart{}), Error);
  LineChart l{"l", "x", "y", {{"bad", {1, 2}, {1}, {}, {}}}, false};
  EXPECT_THROW(svg_line_chart(l), Error);
  BarChart c{"t", "ms", {{"a", 1.0}}, false, {1.0, 2.0}};
  EXPECT_THROW(svg_bar_chart(c), Error);
}

}  // namespace
}  // namespace nfp
