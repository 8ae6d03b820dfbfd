// Numeric CSV tables with a header row (the `nfp density` data format).
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace nfp {

struct Table {
  std::vector<std::string> columns;
  std::vector<double> values;  // row-major (rows x columns)
  int64_t rows() const { return columns.empty() ? 0 : int64_t(values.size() / columns.size()); }
  double at(int64_t row, size_t col) const { return values[size_t(row) * columns.size() + col]; }

  // Index of column `name`; throws nfp::Error listing the available columns if it is absent.
  size_t column_index(const std::string& name, const std::string& source) const;
  // The named columns as a new table, in the order given.
  Table select(const std::vector<std::string>& names, const std::string& source) const;
};

// Reads a CSV file whose first row names the columns. Every other cell must be a finite number: NaN, Inf,
// an empty or non-numeric cell, or a row with the wrong number of cells throws nfp::Error naming the file,
// the line and the column.
Table read_csv(const std::filesystem::path& path);
Table parse_csv(const std::string& text, const std::string& source);
// The text write_csv writes: the header (names quoted as RFC 4180 needs), then every row with full double
// precision (parse_csv of it gives the table back exactly).
std::string format_csv(const Table& table);
// Writes atomically, with full double precision.
void write_csv(const std::filesystem::path& path, const Table& table);

// One record of RFC 4180 CSV from text[pos..] as text cells (the reader under parse_csv): fields separated by
// commas, the record ended by LF, CRLF or the end of the text. A field in double quotes may hold commas, line breaks
// and doubled quotes ("" -> "); quoted fields are kept as written, unquoted ones trimmed of spaces. `line` counts
// physical lines (for messages); a blank line is one empty cell. Returns false at the end of the text; throws
// nfp::Error naming `source` and the line for a quote never closed or text after a closing quote. Files written by
// Python's csv module in any quoting mode read the same.
struct CsvRecord {
  std::vector<std::string> cells;
  int64_t line = 0;  // the line the record starts on
};
bool next_csv_record(const std::string& text, size_t& pos, int64_t& line, const std::string& source, CsvRecord& out);

// Splits "a,b,c" into names (empty input gives an empty list).
std::vector<std::string> split_names(const std::string& list);

}  // namespace nfp
