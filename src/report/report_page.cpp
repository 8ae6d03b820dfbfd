// The report page: header, what is missing, the comparison of every evaluation (table + success against latency),
// one section per run (report_run.cpp) and the benchmark directories' tables and charts. Written into a staged
// directory that replaces OUT only once complete.
#include <cmath>
#include <cstdio>

#include "nfp/atomic_file.hpp"
#include "nfp/error.hpp"
#include "nfp/progress.hpp"
#include "nfp/report.hpp"
#include "nfp/svg_chart.hpp"
#include "report_charts.hpp"
#include "report_html.hpp"

namespace fs = std::filesystem;

namespace nfp {

PercentInterval wilson_interval(int64_t k, int64_t n, double z) {
  if (n <= 0) return {};
  const double p = double(k) / double(n), nn = double(n), z2 = z * z;
  const double centre = (p + z2 / (2 * nn)) / (1 + z2 / nn);
  const double half = z / (1 + z2 / nn) * std::sqrt(p * (1 - p) / nn + z2 / (4 * nn * nn));
  return {100 * std::max(0.0, centre - half), 100 * std::min(1.0, centre + half)};
}

namespace report {

std::string esc(const std::string& text) { return xml_escape(text); }

std::string fixed(double v, int decimals) {
  if (!std::isfinite(v)) return "n/a";
  char b[64];
  std::snprintf(b, sizeof b, "%.*f", decimals, v);
  return b;
}

std::string Assets::chart(const std::string& name, const std::string& svg, const std::string& alt) {
  if (svg.empty()) return "";
  fs::create_directories(root / "assets");
  write_file_atomic(root / "assets" / (name + ".svg"), svg);
  return "<img class=\"chart\" src=\"assets/" + esc(name) + ".svg\" alt=\"" + esc(alt) + "\">";
}

std::string Assets::copy(const fs::path& source, const std::string& name) {
  fs::create_directories(root / "assets");
  fs::copy_file(source, root / "assets" / name, fs::copy_options::overwrite_existing);
  return "assets/" + name;
}

Success success_of(const json& info) {
  Success s;
  s.pc = number_at(member(info, "aggregated"), "pc_success");
  if (info.contains("per_episode") && info["per_episode"].is_array()) {
    for (const auto& e : info["per_episode"]) s.successes += e.is_object() && e.value("success", false);
    s.trials = int64_t(info["per_episode"].size());
  }
  const auto ci = wilson_interval(s.successes, s.trials);
  s.lo = ci.lo, s.hi = ci.hi;
  return s;
}

std::string success_html(const Success& s) {
  std::string t = "<b>" + fixed(s.pc, 1) + "%</b>";
  if (s.trials > 0)
    t += " [" + fixed(s.lo, 1) + ", " + fixed(s.hi, 1) + "] (" + std::to_string(s.successes) + " / " + std::to_string(s.trials) + ")";
  return t;
}

namespace {

const char* const kStyle = R"(body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1500px;padding:0 1em;color:#222}
h1{margin-bottom:.2em}h2{border-top:2px solid #4e79a7;padding-top:.6em;margin-top:2em}
table{border-collapse:collapse;margin:.6em 0}th,td{border:1px solid #ccc;padding:.25em .6em;text-align:left;font-size:14px}
th{background:#f3f5f8}td.num{text-align:right}.path,.meta,.note{color:#666;font-size:13px}
.problems,.problem{color:#a4262c;background:#fdecea;padding:.4em 1.6em;border-radius:4px}
.charts img,img.chart{max-width:48%;min-width:420px;margin:.3em;border:1px solid #eee}
.videos{display:flex;flex-wrap:wrap;gap:.8em}figure{margin:0}video{width:320px;background:#000}
figcaption{font-size:13px;color:#444}details.config{margin:.4em 0}.eval{margin-left:1em})";

std::string comparison(const report::Inputs& in, Assets& assets) {
  std::vector<SuccessLatency> points;
  std::string rows;
  for (size_t r = 0; r < in.runs.size(); ++r)
    for (const auto& e : in.runs[r].evals) {
      if (!e.info.is_object()) continue;
      const json& g = member(e.info, "aggregated");
      const Success s = success_of(e.info);
      const std::string label = in.runs[r].name + (in.runs[r].evals.size() > 1 ? " / " + e.file.stem().string() : "");
      points.push_back({label, number_at(g, "chunk_latency_ms_p50"), s.pc, s.lo, s.hi});
      rows += "<tr><td><a href=\"#run-" + std::to_string(r) + "\">" + esc(label) + "</a></td><td>" +
              esc(e.info.value("task", std::string("?"))) + "</td><td>" +
              esc(e.info.contains("inference") && e.info["inference"].is_object() ? e.info["inference"].value("strategy", std::string("sample")) : "") +
              "</td><td class=\"num\">" + std::to_string(s.trials) + "</td><td class=\"num success\">" + success_html(s) +
              "</td><td class=\"num\">" + fixed(number_at(g, "chunk_latency_ms_p50"), 2) + "</td><td class=\"num\">" +
              fixed(number_at(g, "chunk_latency_ms_p99"), 2) + "</td><td class=\"num\">" +
              esc(e.info.contains("parameters") ? e.info["parameters"].dump() : std::string("")) + "</td></tr>\n";
    }
  if (rows.empty()) return "";
  std::string s = "<h2>Comparison</h2>\n<table class=\"comparison\"><tr><th>run</th><th>task</th><th>strategy</th>"
                  "<th>episodes</th><th>success (95% interval)</th><th>latency p50 ms</th><th>p99 ms</th>"
                  "<th>parameters</th></tr>\n" + rows + "</table>\n";
  if (points.size() >= 2) s += assets.chart("success_vs_latency", success_latency_chart(points), "success against latency");
  return s;
}

std::string bench_section(const report::BenchEntry& b, size_t index, Assets& assets, std::vector<std::string>& problems) {
  std::string s = "<section class=\"bench\" id=\"bench-" + std::to_string(index) + "\" data-bench=\"" + esc(b.name) +
                  "\">\n<h2>Benchmark " + esc(b.name) + "</h2>\n<p class=\"path\">" + esc(b.dir.string()) + "</p>\n";
  if (!b.summary.empty()) s += "<p>" + esc(b.summary) + "</p>\n";
  for (const auto& p : b.problems) problems.push_back(b.name + ": " + p), s += "<p class=\"problem\">" + esc(p) + "</p>\n";
  if (!b.table.empty()) {
    s += "<table class=\"bench-table\">";
    for (size_t r = 0; r < b.table.size(); ++r) {
      s += "<tr>";
      for (const auto& c : b.table[r]) s += (r == 0 ? "<th>" : "<td>") + esc(c) + (r == 0 ? "</th>" : "</td>");
      s += "</tr>\n";
    }
    s += "</table>\n";
  }
  std::string charts;
  for (const auto& c : b.charts)
    charts += "<img class=\"chart\" src=\"" + esc(assets.copy(c, "bench" + std::to_string(index) + "_" + c.filename().string())) +
              "\" alt=\"" + esc(c.stem().string()) + "\">";
  if (!charts.empty()) s += "<div class=\"charts\">" + charts + "</div>\n";
  return s + "</section>\n";
}

}  // namespace
}  // namespace report

ReportSummary write_report(const ReportOptions& o) {
  require(!o.inputs.empty(), "nfp report: no inputs; give run directories, eval_info.json files or benchmark directories");
  require(!o.out.empty(), "nfp report: --out is required");
  const report::Inputs in = report::gather_inputs(o.inputs);
  StagedDir stage(o.out);
  report::Assets assets{stage.path()};
  ReportSummary sum;
  sum.problems = in.problems;
  std::string body;
  for (size_t r = 0; r < in.runs.size(); ++r) body += report::run_section(in.runs[r], r, assets, o.max_videos, sum.problems);
  for (size_t b = 0; b < in.benches.size(); ++b) body += report::bench_section(in.benches[b], b, assets, sum.problems);
  std::string toc;
  for (size_t r = 0; r < in.runs.size(); ++r)
    toc += "<li><a href=\"#run-" + std::to_string(r) + "\">" + report::esc(in.runs[r].name) + "</a></li>";
  for (size_t b = 0; b < in.benches.size(); ++b)
    toc += "<li><a href=\"#bench-" + std::to_string(b) + "\">benchmark " + report::esc(in.benches[b].name) + "</a></li>";
  std::string head = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>" + report::esc(o.title) +
                     "</title><style>" + report::kStyle + "</style></head><body>\n<h1>" + report::esc(o.title) +
                     "</h1>\n<p class=\"meta\">Written " + utc_minute_now() +
                     (o.command.empty() ? "" : " by <code>" + report::esc(o.command) + "</code>") + "</p>\n<ul class=\"toc\">" +
                     toc + "</ul>\n";
  if (!sum.problems.empty()) {
    head += "<h2>Missing or damaged</h2>\n<ul class=\"problems\">";
    for (const auto& p : sum.problems) head += "<li>" + report::esc(p) + "</li>";
    head += "</ul>\n";
  }
  head += report::comparison(in, assets);
  write_file_atomic(stage.path() / "index.html", head + body + "</body></html>\n");
  stage.commit();
  for (const auto& r : in.runs) sum.evals += int64_t(r.evals.size()), sum.runs += !r.dir.empty();
  sum.benches = int64_t(in.benches.size());
  sum.videos = assets.videos;
  sum.index = o.out / "index.html";
  return sum;
}

}  // namespace nfp
