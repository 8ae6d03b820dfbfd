// A minimal JSON reader (objects, arrays, strings, numbers, booleans, null) so the runtime needs nothing but
// the standard library: it reads the safetensors header and the model config. Not a general JSON library:
// no \u escapes beyond ASCII, no writer. Errors throw nfp::rt::LoadError (only at load time).
#pragma once
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace nfp::rt {

struct LoadError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct JsonValue {
  enum Kind { Null, Bool, Number, String, Array, Object } kind = Null;
  bool b = false;
  double num = 0;
  std::string str;
  std::vector<JsonValue> arr;
  std::map<std::string, JsonValue> obj;

  bool has(const std::string& key) const { return kind == Object && obj.count(key) > 0; }
  // Typed access; `where` names the value in the error message.
  const JsonValue& at(const std::string& key, const std::string& where) const;
  double number(const std::string& where) const;
  long long integer(const std::string& where) const;
  bool boolean(const std::string& where) const;
  const std::string& string(const std::string& where) const;
  std::vector<float> floats(const std::string& where) const;
  // With a default when the key is absent.
  long long get_int(const std::string& key, long long dflt, const std::string& where) const;
  double get_number(const std::string& key, double dflt, const std::string& where) const;
  bool get_bool(const std::string& key, bool dflt, const std::string& where) const;
  std::string get_string(const std::string& key, const std::string& dflt, const std::string& where) const;
};

JsonValue parse_json(const char* begin, const char* end);

}  // namespace nfp::rt
