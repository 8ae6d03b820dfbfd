#include "nfp/json_io.hpp"

#include "nfp/atomic_file.hpp"
#include "nfp/error.hpp"

namespace nfp {

json read_json_file(const std::filesystem::path& path) {
  const std::string text = read_file(path);
  try {
    return json::parse(text);
  } catch (const json::parse_error& e) {
    throw Error("'" + path.string() + "' is not valid JSON (" + e.what() + ")");
  }
}

void write_json_file(const std::filesystem::path& path, const json& value) {
  write_file_atomic(path, value.dump(2) + "\n");
}

}  // namespace nfp
