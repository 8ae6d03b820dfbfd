#include "nfp/json_io.hpp"

#include <algorithm>

#include "nfp/atomic_file.hpp"
#include "nfp/error.hpp"

namespace nfp {

json read_json_file(const std::filesystem::path& path) {
  const std::string text = read_file(path);
  try {
    return json::parse(text);
  } catch (const json::parse_error& e) {
    throw Error("'" + path.string() + "' is not valid JSON (" + truncate_for_message(e.what(), 200) + ")");
  }
}

void require_known_keys(const json& j, const std::vector<std::string>& known, const std::string& where) {
  require(j.is_object(), where + ": expected a JSON object");
  for (const auto& [k, v] : j.items()) {
    if (std::find(known.begin(), known.end(), k) != known.end()) continue;
    std::string list;
    for (const auto& n : known) list += (list.empty() ? "" : ", ") + n;
    throw Error(where + ": unknown key " + quoted_value(k) + "; known keys: " + list);
  }
}

std::vector<std::string> json_keys(const json& object) {
  std::vector<std::string> keys;
  for (const auto& [k, v] : object.items()) keys.push_back(k);
  return keys;
}

void write_json_file(const std::filesystem::path& path, const json& value) {
  write_file_atomic(path, value.dump(2) + "\n");
}

}  // namespace nfp
