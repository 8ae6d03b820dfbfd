// Fuzz target: a CSV table as `nfp density` reads it (parse_csv: RFC 4180 quoting, header row, finite numbers).
// A parsed table must be rectangular and finite, select() of its own columns must give it back, and it must
// survive a round trip through the writer: parse_csv(format_csv(t)) == t, names and values exactly. Allowed
// outcomes: that, or nfp::Error (with a message of bounded length: a huge cell is cut, never echoed whole);
// anything else aborts.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>

#include "nfp/csv.hpp"
#include "nfp/error.hpp"

namespace {

[[noreturn]] void finding(const char* what) {
  std::fprintf(stderr, "fuzz_csv: %s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  nfp::Table t;
  try {
    t = nfp::parse_csv(text, "fuzz.csv");
  } catch (const nfp::Error& e) {
    // Every echoed cell or name is cut to 80 characters (each control character then written as up to 4, "\x00"):
    // a message beyond 2000 characters means a value was echoed whole.
    if (std::string(e.what()).size() > 2000) finding("an error message that echoes a whole (long) input");
    if (std::strchr(e.what(), '\n')) finding("a multi-line error message (a value echoed with its line breaks)");
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fuzz_csv: unexpected exception: %s\n", e.what());
    std::abort();
  }
  if (t.columns.empty() || t.rows() < 1 || t.values.size() != size_t(t.rows()) * t.columns.size())
    finding("a parsed table that is not rectangular");
  for (double v : t.values)
    if (!std::isfinite(v)) finding("a parsed table with a non-finite value");
  try {
    const nfp::Table back = nfp::parse_csv(nfp::format_csv(t), "round trip");
    if (back.columns != t.columns || back.values != t.values) finding("parse(format(t)) differs from t");
    // Duplicate names select their first column, so only a table of distinct names must come back whole.
    const nfp::Table sel = t.select(t.columns, "fuzz.csv");
    bool distinct = true;
    for (size_t i = 0; i < t.columns.size(); ++i)
      for (size_t j = 0; j < i; ++j) distinct = distinct && t.columns[i] != t.columns[j];
    if (distinct && sel.values != t.values) finding("select() of every column differs from the table");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fuzz_csv: a parsed table does not round-trip: %s\n", e.what());
    std::abort();
  }
  return 0;
}
