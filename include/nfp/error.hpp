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

}  // namespace nfp
