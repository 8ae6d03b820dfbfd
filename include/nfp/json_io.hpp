// JSON files and typed access with clear errors (nlohmann::json underneath).
#pragma once
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "nfp/error.hpp"

namespace nfp {

using json = nlohmann::json;

// Parses a JSON file; errors name the file and the parser's position.
json read_json_file(const std::filesystem::path& path);
// Writes pretty-printed JSON atomically.
void write_json_file(const std::filesystem::path& path, const json& value);

// Every key of object `j` must be one of `known` (a typo in a config must not silently fall back to a default);
// otherwise nfp::Error "<where>: unknown key 'k'; known keys: a, b, ...". A non-object `j` is an error too.
void require_known_keys(const json& j, const std::vector<std::string>& known, const std::string& where);
// The keys of an object, in its order (e.g. of a config's to_json, as the known keys).
std::vector<std::string> json_keys(const json& object);

// Reads `key` from object `j` as T if present, else returns `fallback`. A value of the wrong type throws
// nfp::Error naming `where` and the key.
template <typename T>
T json_get(const json& j, const std::string& key, const T& fallback, const std::string& where) {
  if (!j.is_object() || !j.contains(key) || j.at(key).is_null()) return fallback;
  try {
    return j.at(key).get<T>();
  } catch (const json::exception&) {
    throw Error(where + ": key '" + key + "' has the wrong type (" + j.at(key).dump() + ")");
  }
}

}  // namespace nfp
