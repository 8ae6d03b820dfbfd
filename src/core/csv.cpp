#include "nfp/csv.hpp"

#include <cmath>
#include <cstdlib>
#include <sstream>

#include "nfp/atomic_file.hpp"
#include "nfp/error.hpp"

namespace nfp {
namespace {

std::string trim(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  const size_t e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

std::vector<std::string> split_line(const std::string& line) {
  std::vector<std::string> cells;
  std::string cell;
  std::istringstream in(line);
  while (std::getline(in, cell, ',')) cells.push_back(trim(cell));
  if (!line.empty() && line.back() == ',') cells.push_back("");
  return cells;
}

std::string join(const std::vector<std::string>& names) {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) out += (i ? ", " : "") + names[i];
  return out;
}

}  // namespace

std::vector<std::string> split_names(const std::string& list) {
  std::vector<std::string> out;
  if (trim(list).empty()) return out;
  for (auto& s : split_line(list)) out.push_back(s);
  return out;
}

size_t Table::column_index(const std::string& name, const std::string& source) const {
  for (size_t i = 0; i < columns.size(); ++i)
    if (columns[i] == name) return i;
  throw Error("'" + source + "' has no column '" + name + "'; available columns: " + join(columns));
}

Table Table::select(const std::vector<std::string>& names, const std::string& source) const {
  Table out;
  out.columns = names;
  std::vector<size_t> idx;
  for (const auto& n : names) idx.push_back(column_index(n, source));
  out.values.reserve(size_t(rows()) * names.size());
  for (int64_t r = 0; r < rows(); ++r)
    for (size_t i : idx) out.values.push_back(at(r, i));
  return out;
}

Table parse_csv(const std::string& text, const std::string& source) {
  Table t;
  std::istringstream in(text);
  std::string line;
  int64_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (trim(line).empty()) continue;
    if (t.columns.empty()) {
      t.columns = split_line(line);
      for (size_t c = 0; c < t.columns.size(); ++c) {
        require(!t.columns[c].empty(), "'" + source + "' line " + std::to_string(line_no) + ": column " +
                                           std::to_string(c + 1) + " of the header row has no name");
        char* end = nullptr;
        std::strtod(t.columns[c].c_str(), &end);
        require(*end != '\0', "'" + source + "' line 1: the first row must name the columns, but '" +
                                  t.columns[c] + "' is a number; add a header row such as x,y");
      }
      continue;
    }
    const auto cells = split_line(line);
    require(cells.size() == t.columns.size(), "'" + source + "' line " + std::to_string(line_no) + ": " +
                                                  std::to_string(cells.size()) + " cells, the header has " +
                                                  std::to_string(t.columns.size()));
    for (size_t c = 0; c < cells.size(); ++c) {
      char* end = nullptr;
      const double v = std::strtod(cells[c].c_str(), &end);
      if (!cells[c].empty() && *end == '\0' && std::isfinite(v)) {
        t.values.push_back(v);
        continue;
      }
      // The message is built only for a bad cell (it used to be built for every cell).
      const std::string where = "'" + source + "' line " + std::to_string(line_no) + ", column '" + t.columns[c] + "'";
      require(!cells[c].empty(), where + ": empty cell; every cell must be a number");
      require(*end == '\0', where + ": '" + cells[c] + "' is not a number");
      throw Error(where + ": '" + cells[c] + "' is not finite; remove or fix that row");
    }
  }
  require(!t.columns.empty(), "'" + source + "' is empty; expected a header row and data rows");
  require(t.rows() > 0, "'" + source + "' has a header but no data rows");
  return t;
}

Table read_csv(const std::filesystem::path& path) { return parse_csv(read_file(path), path.string()); }

void write_csv(const std::filesystem::path& path, const Table& table) {
  std::ostringstream o;
  o.precision(17);
  for (size_t c = 0; c < table.columns.size(); ++c) o << (c ? "," : "") << table.columns[c];
  o << "\n";
  for (int64_t r = 0; r < table.rows(); ++r) {
    for (size_t c = 0; c < table.columns.size(); ++c) o << (c ? "," : "") << table.at(r, c);
    o << "\n";
  }
  write_file_atomic(path, o.str());
}

}  // namespace nfp
