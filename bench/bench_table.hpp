// A results table of mixed text and numbers, written as CSV (RFC 4180 quoting) and as a Markdown table.
// nfp/csv.hpp reads and writes numeric tables only; benchmark rows carry task and head names.
#pragma once
#include <string>
#include <vector>

namespace nfp::bench {

struct ReportTable {
  std::vector<std::string> columns;
  std::vector<std::vector<std::string>> rows;  // each the width of columns
  void add(std::vector<std::string> row);      // throws nfp::Error on a width mismatch
  std::string csv() const;
  std::string markdown() const;
};

// A number for a table cell: `digits` after the point, "-" for NaN.
std::string cell(double v, int digits = 1);

}  // namespace nfp::bench
