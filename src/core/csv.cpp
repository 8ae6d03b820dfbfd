#include "nfp/csv.hpp"

#include <cmath>
#include <cstdlib>
#include <sstream>
#include <vector>

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

}  // namespace

bool next_csv_record(const std::string& text, size_t& pos, int64_t& line, const std::string& source, CsvRecord& out) {
  out.cells.clear();
  if (pos >= text.size()) return false;
  out.line = ++line;
  std::string cell;
  bool quoted = false;
  while (true) {
    const char ch = pos < text.size() ? text[pos] : '\n';
    if (ch == '"' && !quoted && cell.find_first_not_of(" \t") == std::string::npos) {  // a quoted field
      cell.clear();
      for (++pos;; ++pos) {
        require(pos < text.size(), "'" + source + "' line " + std::to_string(out.line) +
                                       ": a quoted field is never closed (a \" without its closing \")");
        if (text[pos] == '"') {
          if (pos + 1 < text.size() && text[pos + 1] == '"') {
            cell += '"';
            ++pos;
            continue;
          }
          break;
        }
        if (text[pos] == '\n') ++line;
        cell += text[pos];
      }
      ++pos;  // past the closing quote
      quoted = true;
      continue;
    }
    if (ch == ',' || ch == '\n' || (ch == '\r' && (pos + 1 >= text.size() || text[pos + 1] == '\n'))) {
      out.cells.push_back(quoted ? cell : trim(cell));
      cell.clear();
      quoted = false;
      if (ch == '\r') ++pos;
      ++pos;
      if (ch != ',') return true;
      continue;
    }
    if (quoted) {  // only spaces may follow a closing quote
      require(ch == ' ' || ch == '\t', "'" + source + "' line " + std::to_string(line) +
                                          ": text after a closing quote; a quote inside a quoted field is written \"\"");
    } else {
      cell += ch;
    }
    ++pos;
  }
}

namespace {

std::vector<std::string> split_line(const std::string& line) {
  size_t pos = 0;
  int64_t n = 0;
  CsvRecord r;
  next_csv_record(line, pos, n, "list", r);
  return r.cells;
}

// A name as RFC 4180 writes it: in double quotes (inner quotes doubled) when it holds a comma, a quote, a line
// break or edge spaces, as is otherwise.
std::string csv_field(const std::string& name) {
  if (name.find_first_of(",\"\r\n") == std::string::npos && trim(name) == name) return name;
  std::string out = "\"";
  for (char ch : name) out += ch == '"' ? std::string("\"\"") : std::string(1, ch);
  return out + "\"";
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
  throw Error("'" + source + "' has no column " + quoted_value(name) + "; available columns: " +
              truncate_for_message(join(columns), 200));
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
  size_t pos = 0;
  int64_t line = 0;
  CsvRecord rec;
  while (next_csv_record(text, pos, line, source, rec)) {
    const int64_t line_no = rec.line;
    if (rec.cells.size() == 1 && rec.cells[0].empty()) continue;  // a blank line
    if (t.columns.empty()) {
      t.columns = rec.cells;
      for (size_t c = 0; c < t.columns.size(); ++c) {
        require(!t.columns[c].empty(), "'" + source + "' line " + std::to_string(line_no) + ": column " +
                                           std::to_string(c + 1) + " of the header row has no name");
        char* end = nullptr;
        std::strtod(t.columns[c].c_str(), &end);
        require(*end != '\0', "'" + source + "' line 1: the first row must name the columns, but " +
                                  quoted_value(t.columns[c]) + " is a number; add a header row such as x,y");
      }
      continue;
    }
    const auto& cells = rec.cells;
    require(cells.size() == t.columns.size(), "'" + source + "' line " + std::to_string(line_no) + ": " +
                                                  std::to_string(cells.size()) + " cells, the header has " +
                                                  std::to_string(t.columns.size()));
    for (size_t c = 0; c < cells.size(); ++c) {
      char* end = nullptr;
      const double v = std::strtod(cells[c].c_str(), &end);
      const bool whole = end == cells[c].c_str() + cells[c].size();  // not "1\0junk": strtod stops at a NUL
      if (!cells[c].empty() && whole && std::isfinite(v)) {
        t.values.push_back(v);
        continue;
      }
      // The message is built only for a bad cell (it used to be built for every cell).
      // Values are cut for the message: a 5 MB cell must not become a 5 MB error line.
      const std::string where = "'" + source + "' line " + std::to_string(line_no) + ", column " + quoted_value(t.columns[c]);
      require(!cells[c].empty(), where + ": empty cell; every cell must be a number");
      require(whole, where + ": " + quoted_value(cells[c]) + " is not a number");
      throw Error(where + ": " + quoted_value(cells[c]) + " is not finite; remove or fix that row");
    }
  }
  require(!t.columns.empty(), "'" + source + "' is empty; expected a header row and data rows");
  require(t.rows() > 0, "'" + source + "' has a header but no data rows");
  return t;
}

Table read_csv(const std::filesystem::path& path) { return parse_csv(read_file(path), path.string()); }

std::string format_csv(const Table& table) {
  std::ostringstream o;
  o.precision(17);
  for (size_t c = 0; c < table.columns.size(); ++c) o << (c ? "," : "") << csv_field(table.columns[c]);
  o << "\n";
  for (int64_t r = 0; r < table.rows(); ++r) {
    for (size_t c = 0; c < table.columns.size(); ++c) o << (c ? "," : "") << table.at(r, c);
    o << "\n";
  }
  return o.str();
}

void write_csv(const std::filesystem::path& path, const Table& table) { write_file_atomic(path, format_csv(table)); }

}  // namespace nfp
