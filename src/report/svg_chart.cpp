// SVG charts for the benchmark reports (see nfp/svg_chart.hpp). Plain SVG 1.1 text, fixed 720x440 canvas.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "nfp/svg_chart.hpp"
#include "nfp/error.hpp"

namespace nfp {

namespace {

constexpr double kW = 720, kH = 440, kLeft = 80, kRight = 160, kTop = 40, kBottom = 120;
const char* const kColors[] = {"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
                               "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"};


std::string num(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.4g", v);
  return b;
}

// A value axis: maps data to pixels over [lo, hi], linear or log10, with tick values.
struct Axis {
  double lo = 0, hi = 1;
  bool log = false;
  double frac(double v) const {
    if (log) return (std::log10(v) - std::log10(lo)) / (std::log10(hi) - std::log10(lo));
    return (v - lo) / (hi - lo);
  }
  std::vector<double> ticks() const {
    std::vector<double> t;
    if (log) {
      for (double p = std::floor(std::log10(lo)); p <= std::ceil(std::log10(hi)) + 1e-9; p += 1)
        if (std::pow(10, p) >= lo * 0.999 && std::pow(10, p) <= hi * 1.001) t.push_back(std::pow(10, p));
      return t;
    }
    const double raw = (hi - lo) / 5, mag = std::pow(10, std::floor(std::log10(raw)));
    const double step = raw / mag < 2 ? 2 * mag : raw / mag < 5 ? 5 * mag : 10 * mag;
    // k x step, not a running sum (no 1e-17 for 0); + 0.0 turns a -0 (ceil of a small negative) into 0
    for (double k = std::ceil(lo / step); k * step <= hi + 1e-9 * step; k += 1) t.push_back(k * step + 0.0);
    return t;
  }
};

Axis make_axis(std::vector<double> values, bool log, bool from_zero) {
  values.erase(std::remove_if(values.begin(), values.end(), [&](double v) { return !std::isfinite(v) || (log && v <= 0); }),
               values.end());
  Axis a;
  a.log = log;
  if (values.empty()) {  // nothing to place: an empty 1..10 (log) or 0..1 axis, never log10(0)
    if (log) a.lo = 1, a.hi = 10;
    return a;
  }
  const auto [mn, mx] = std::minmax_element(values.begin(), values.end());
  if (log) {
    a.lo = std::pow(10, std::floor(std::log10(*mn)));
    a.hi = std::pow(10, std::ceil(std::log10(*mx)));
    if (a.hi <= a.lo) a.hi = a.lo * 10;
  } else {
    a.lo = from_zero ? std::min(0.0, *mn) : *mn;
    a.hi = *mx;
    const double pad = (a.hi - a.lo) * 0.05;
    if (!from_zero) a.lo -= pad;
    a.hi += pad;
    if (a.hi <= a.lo) a.hi = a.lo + 1;
  }
  return a;
}

std::string header(const std::string& title) {
  return "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + num(kW) + "\" height=\"" + num(kH) +
         "\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
         "<text x=\"" + num(kW / 2) + "\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">" + xml_escape(title) + "</text>\n";
}

double py(const Axis& a, double v) { return kTop + (1 - a.frac(v)) * (kH - kTop - kBottom); }
double px(const Axis& a, double v) { return kLeft + a.frac(v) * (kW - kLeft - kRight); }

std::string y_axis(const Axis& a, const std::string& label) {
  std::string s = "<line x1=\"" + num(kLeft) + "\" y1=\"" + num(kTop) + "\" x2=\"" + num(kLeft) + "\" y2=\"" +
                  num(kH - kBottom) + "\" stroke=\"black\"/>\n";
  for (double t : a.ticks())
    s += "<line x1=\"" + num(kLeft - 4) + "\" y1=\"" + num(py(a, t)) + "\" x2=\"" + num(kW - kRight) + "\" y2=\"" +
         num(py(a, t)) + "\" stroke=\"#ddd\"/><text x=\"" + num(kLeft - 6) + "\" y=\"" + num(py(a, t) + 4) +
         "\" text-anchor=\"end\">" + num(t) + "</text>\n";
  s += "<text transform=\"translate(18," + num((kTop + kH - kBottom) / 2) + ") rotate(-90)\" text-anchor=\"middle\">" +
       xml_escape(label) + "</text>\n";
  return s;
}

std::string x_axis(const Axis& a, const std::string& label) {
  std::string s = "<line x1=\"" + num(kLeft) + "\" y1=\"" + num(kH - kBottom) + "\" x2=\"" + num(kW - kRight) +
                  "\" y2=\"" + num(kH - kBottom) + "\" stroke=\"black\"/>\n";
  for (double t : a.ticks())
    s += "<text x=\"" + num(px(a, t)) + "\" y=\"" + num(kH - kBottom + 16) + "\" text-anchor=\"middle\">" + num(t) +
         "</text>\n";
  s += "<text x=\"" + num((kLeft + kW - kRight) / 2) + "\" y=\"" + num(kH - kBottom + 40) +
       "\" text-anchor=\"middle\">" + xml_escape(label) + "</text>\n";
  return s;
}

}  // namespace

std::string svg_bar_chart(const BarChart& c) {
  require(!c.bars.empty(), "svg bar chart: no bars");
  require(c.errors.empty() || c.errors.size() == c.bars.size(), "svg bar chart: one error per bar");
  std::vector<double> v;
  for (size_t i = 0; i < c.bars.size(); ++i) {
    v.push_back(c.bars[i].second);
    if (!c.errors.empty()) v.push_back(c.bars[i].second + c.errors[i]);
  }
  const Axis a = make_axis(v, c.log_y, true);
  std::string s = header(c.title) + y_axis(a, c.y_label);
  const double slot = (kW - kLeft - kRight) / double(c.bars.size()), base = c.log_y ? py(a, a.lo) : py(a, std::max(a.lo, 0.0));
  for (size_t i = 0; i < c.bars.size(); ++i) {
    const double val = c.bars[i].second, x = kLeft + slot * (double(i) + 0.15), w = slot * 0.7;
    const double top = (c.log_y && val <= 0) || !std::isfinite(val) ? base : py(a, val);
    s += "<rect x=\"" + num(x) + "\" y=\"" + num(std::min(top, base)) + "\" width=\"" + num(w) + "\" height=\"" +
         num(std::abs(base - top)) + "\" fill=\"" + kColors[i % 10] + "\"><title>" + xml_escape(c.bars[i].first) + ": " +
         num(val) + "</title></rect>\n";
    if (!c.errors.empty() && c.errors[i] > 0 && std::isfinite(val))
      s += "<line x1=\"" + num(x + w / 2) + "\" y1=\"" + num(py(a, val + c.errors[i])) + "\" x2=\"" + num(x + w / 2) +
           "\" y2=\"" + num(py(a, c.log_y ? std::max(val - c.errors[i], a.lo) : val - c.errors[i])) +
           "\" stroke=\"black\"/>\n";
    s += "<text x=\"" + num(x + w / 2) + "\" y=\"" + num(top - 4) + "\" text-anchor=\"middle\" font-size=\"10\">" +
         num(val) + "</text>\n";
    s += "<text transform=\"translate(" + num(x + w / 2) + "," + num(kH - kBottom + 12) +
         ") rotate(35)\" font-size=\"11\">" + xml_escape(c.bars[i].first) + "</text>\n";
  }
  return s + "</svg>\n";
}

std::string svg_scatter(const ScatterPlot& p) {
  require(!p.points.empty(), "svg scatter: no points");
  std::vector<double> xs, ys;
  for (const auto& q : p.points) xs.push_back(q.x), ys.push_back(q.y);
  const Axis ax = make_axis(xs, p.log_x, false), ay = make_axis(ys, false, false);
  std::string s = header(p.title) + y_axis(ay, p.y_label) + x_axis(ax, p.x_label);
  for (size_t i = 0; i < p.points.size(); ++i) {
    const auto& q = p.points[i];
    if (!std::isfinite(q.x) || !std::isfinite(q.y) || (p.log_x && q.x <= 0)) continue;
    s += "<circle cx=\"" + num(px(ax, q.x)) + "\" cy=\"" + num(py(ay, q.y)) + "\" r=\"5\" fill=\"" + kColors[i % 10] +
         "\"/><text x=\"" + num(px(ax, q.x) + 7) + "\" y=\"" + num(py(ay, q.y) - 6) + "\" font-size=\"11\">" +
         xml_escape(q.label) + "</text>\n";
  }
  return s + "</svg>\n";
}

std::string svg_line_chart(const LineChart& c) {
  require(!c.series.empty(), "svg line chart: no series");
  std::vector<double> xs, ys;
  for (const auto& l : c.series) {
    require(l.x.size() == l.y.size(), "svg line chart: series '" + l.name + "' has x and y of different lengths");
    require((l.lo.empty() && l.hi.empty()) || (l.lo.size() == l.x.size() && l.hi.size() == l.x.size()),
            "svg line chart: series '" + l.name + "' needs lo and hi for every point, or neither");
    xs.insert(xs.end(), l.x.begin(), l.x.end());
    ys.insert(ys.end(), l.y.begin(), l.y.end());
    ys.insert(ys.end(), l.lo.begin(), l.lo.end());  // whiskers stay inside the axis
    ys.insert(ys.end(), l.hi.begin(), l.hi.end());
  }
  const Axis ax = make_axis(xs, c.log_x, false), ay = make_axis(ys, false, false);
  std::string s = header(c.title) + y_axis(ay, c.y_label) + x_axis(ax, c.x_label);
  for (size_t k = 0; k < c.series.size(); ++k) {
    const auto& l = c.series[k];
    std::string pts, marks, upper, lower;
    const std::string color = kColors[k % 10];
    for (size_t i = 0; i < l.x.size(); ++i) {
      if (!std::isfinite(l.x[i]) || !std::isfinite(l.y[i]) || (c.log_x && l.x[i] <= 0)) continue;
      const double x = px(ax, l.x[i]), y = py(ay, l.y[i]);
      pts += num(x) + "," + num(y) + " ";
      if (c.markers) marks += "<circle cx=\"" + num(x) + "\" cy=\"" + num(y) + "\" r=\"3\" fill=\"" + color + "\"/>\n";
      const bool has_range = !l.lo.empty() && std::isfinite(l.lo[i]) && std::isfinite(l.hi[i]);
      if (c.bands && has_range) {  // the band's outline: along hi forwards, back along lo
        upper += num(x) + "," + num(py(ay, l.hi[i])) + " ";
        lower = num(x) + "," + num(py(ay, l.lo[i])) + " " + lower;
      }
      if (!c.bands && has_range && l.hi[i] > l.lo[i])
        marks += "<line x1=\"" + num(x) + "\" y1=\"" + num(py(ay, l.lo[i])) + "\" x2=\"" + num(x) + "\" y2=\"" +
                 num(py(ay, l.hi[i])) + "\" stroke=\"" + color + "\" stroke-width=\"1.5\"/>\n";
    }
    if (!upper.empty())
      s += "<polygon points=\"" + upper + lower + "\" fill=\"" + color + "\" fill-opacity=\"0.15\" stroke=\"none\"/>\n";
    s += "<polyline points=\"" + pts + "\" fill=\"none\" stroke=\"" + color + "\" stroke-width=\"2\"/>\n" + marks;
    s += "<text x=\"" + num(kW - kRight + 10) + "\" y=\"" + num(kTop + 16 * double(k + 1)) + "\" fill=\"" +
         kColors[k % 10] + "\">" + xml_escape(l.name) + "</text>\n";
  }
  return s + "</svg>\n";
}

std::string xml_escape(const std::string& text) {
  std::string o;
  for (char c : text) {
    if (c == '<') o += "&lt;";
    else if (c == '>') o += "&gt;";
    else if (c == '&') o += "&amp;";
    else if (c == '"') o += "&quot;";
    else if (c == '\'') o += "&#39;";
    else o += c;
  }
  return o;
}

}  // namespace nfp
