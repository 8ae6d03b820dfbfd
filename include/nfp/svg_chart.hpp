// A small SVG chart writer for the benchmark reports and `nfp report`: bar charts, scatter plots and line charts as
// standalone SVG text (no external dependency; every browser and GitHub renders it).
//   nfp::BarChart c{"Head latency", "p50 ms", {{"nina-mlp", 3.1}, {"diffusion-ddpm-100", 210}}, true};
//   nfp::write_file_atomic("latency.svg", nfp::svg_bar_chart(c));
#pragma once
#include <string>
#include <vector>

namespace nfp {

struct BarChart {
  std::string title, y_label;
  std::vector<std::pair<std::string, double>> bars;  // label, value (>= 0; > 0 with log_y)
  bool log_y = false;
  std::vector<double> errors;                        // optional (bars): half-height of an error bar
};

struct ScatterPoint {
  std::string label;
  double x = 0, y = 0;
};
struct ScatterPlot {
  std::string title, x_label, y_label;
  std::vector<ScatterPoint> points;
  bool log_x = false;
};

struct LineSeries {
  std::string name;
  std::vector<double> x, y;  // same length; each point gets a marker
  std::vector<double> lo, hi;  // optional (x's length): a whisker from lo to hi at each point (e.g. min..max)
};
struct LineChart {
  std::string title, x_label, y_label;
  std::vector<LineSeries> series;
  bool log_x = false;
  bool markers = true;  // a circle per point (false for long curves: training metrics)
  bool bands = false;   // the series' lo..hi as a shaded band (e.g. a confidence interval) instead of whiskers
};

std::string svg_bar_chart(const BarChart& chart);
std::string svg_scatter(const ScatterPlot& plot);
std::string svg_line_chart(const LineChart& chart);

// Text for XML / HTML text and attribute values: < > & " ' escaped.
std::string xml_escape(const std::string& text);

}  // namespace nfp
