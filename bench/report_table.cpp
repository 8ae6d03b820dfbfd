// Mixed text/number result tables as CSV and Markdown (see bench/bench_table.hpp).
#include <cmath>
#include <cstdio>

#include "bench_table.hpp"
#include "nfp/error.hpp"

namespace nfp::bench {

namespace {

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string o = "\"";
  for (char c : s) o += c == '"' ? std::string("\"\"") : std::string(1, c);
  return o + "\"";
}

std::string md_field(const std::string& s) {
  std::string o;
  for (char c : s) o += c == '|' ? std::string("\\|") : c == '\n' ? std::string(" ") : std::string(1, c);
  return o;
}

}  // namespace

void ReportTable::add(std::vector<std::string> row) {
  require(row.size() == columns.size(), "report table: a row of " + std::to_string(row.size()) + " cells for " +
                                            std::to_string(columns.size()) + " columns");
  rows.push_back(std::move(row));
}

std::string ReportTable::csv() const {
  std::string s;
  auto line = [&](const std::vector<std::string>& r) {
    for (size_t i = 0; i < r.size(); ++i) (s += i ? "," : "") += csv_field(r[i]);
    s += "\n";
  };
  line(columns);
  for (const auto& r : rows) line(r);
  return s;
}

std::string ReportTable::markdown() const {
  std::string s;
  auto line = [&](const std::vector<std::string>& r) {
    s += "|";
    for (const auto& c : r) ((s += " ") += md_field(c)) += " |";
    s += "\n";
  };
  line(columns);
  s += "|";
  for (size_t i = 0; i < columns.size(); ++i) s += "---|";
  s += "\n";
  for (const auto& r : rows) line(r);
  return s;
}

std::string cell(double v, int digits) {
  if (std::isnan(v)) return "-";
  char b[64];
  std::snprintf(b, sizeof b, "%.*f", digits, v);
  return b;
}

}  // namespace nfp::bench
