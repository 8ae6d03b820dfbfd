// nfp::Error — the one exception type nfp throws for bad input or failed I/O.
// Its message is a single line that says what was wrong and what to do; the `nfp` command prints it as
// "nfp: error: <message>" and exits non-zero.
#pragma once
#include <stdexcept>
#include <string>

namespace nfp {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// Throws nfp::Error(message) unless `ok`.
inline void require(bool ok, const std::string& message) {
  if (!ok) throw Error(message);
}

// 'text' in single quotes, for naming a path or value in a message. (Built by appending: GCC 12 at -O2 warns
// falsely, -Wstringop-overflow / -Wrestrict, on "'" + std::string temporaries.)
inline std::string quoted(const std::string& text) {
  std::string q;
  q.reserve(text.size() + 2);
  q += '\'';
  q += text;
  q += '\'';
  return q;
}

// `text` cut to at most `max_chars` characters ("abc... (5242880 characters)"), for echoing a value from a file
// or the command line in a message: a 5 MB CSV cell must not become a 5 MB error line. Cuts at a UTF-8
// character boundary.
// Control characters are written as escapes (\n, \t, \x01): an error stays one line whatever the value holds.
inline std::string truncate_for_message(const std::string& text, size_t max_chars = 80) {
  size_t cut = text.size();
  if (text.size() > max_chars) {
    cut = max_chars;
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;  // not inside a character
  }
  static const char* hex = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < cut; ++i) {
    const unsigned char u = static_cast<unsigned char>(text[i]);
    if (u >= 0x20 && u != 0x7f) s += text[i];
    else if (u == '\n') s += "\\n";
    else if (u == '\t') s += "\\t";
    else s += std::string("\\x") + hex[u >> 4] + hex[u & 15];
  }
  if (cut == text.size()) return s;
  s += "... (";
  s += std::to_string(text.size());
  s += " characters)";
  return s;
}

// quoted(truncate_for_message(text)).
inline std::string quoted_value(const std::string& text, size_t max_chars = 80) {
  return quoted(truncate_for_message(text, max_chars));
}

}  // namespace nfp
