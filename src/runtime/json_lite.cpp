#include "runtime/json_lite.hpp"

#include <cctype>
#include <cmath>
#include <cstdlib>

namespace nfp::rt {
namespace {

std::string clip(const std::string& s) { return clip_for_message(s); }

struct Parser {
  const char* p;
  const char* end;
  int depth = 0;

  [[noreturn]] void fail(const std::string& what) { throw LoadError("malformed JSON: " + what); }
  void ws() {
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) ++p;
  }
  bool eat(char c) {
    ws();
    if (p < end && *p == c) {
      ++p;
      return true;
    }
    return false;
  }
  void expect(char c) {
    if (!eat(c)) fail(std::string("expected '") + c + "'");
  }
  std::string parse_string() {
    expect('"');
    std::string s;
    while (p < end && *p != '"') {
      char c = *p++;
      if (c == '\\') {
        if (p >= end) fail("unterminated escape");
        char e = *p++;
        switch (e) {
          case 'n': s += '\n'; break;
          case 't': s += '\t'; break;
          case 'r': s += '\r'; break;
          case 'b': s += '\b'; break;
          case 'f': s += '\f'; break;
          case 'u': {
            if (end - p < 4) fail("bad \\u escape");
            unsigned v = std::strtoul(std::string(p, p + 4).c_str(), nullptr, 16);
            p += 4;
            if (v < 0x80) {
              s += char(v);
            } else if (v < 0x800) {
              s += char(0xC0 | (v >> 6));
              s += char(0x80 | (v & 0x3F));
            } else {
              s += char(0xE0 | (v >> 12));
              s += char(0x80 | ((v >> 6) & 0x3F));
              s += char(0x80 | (v & 0x3F));
            }
            break;
          }
          default: s += e;
        }
      } else {
        s += c;
      }
    }
    if (p >= end) fail("unterminated string");
    ++p;
    return s;
  }
  JsonValue parse_value() {
    if (++depth > 64) fail("nested too deeply");
    ws();
    if (p >= end) fail("unexpected end");
    JsonValue v;
    if (*p == '{') {
      ++p;
      v.kind = JsonValue::Object;
      if (!eat('}')) {
        do {
          ws();
          std::string k = parse_string();
          expect(':');
          // Two values under one key: which one a reader takes differs between libraries; refuse both.
          if (!v.obj.emplace(k, parse_value()).second) fail("duplicate key '" + clip(k) + "'");
        } while (eat(','));
        expect('}');
      }
    } else if (*p == '[') {
      ++p;
      v.kind = JsonValue::Array;
      if (!eat(']')) {
        do v.arr.push_back(parse_value());
        while (eat(','));
        expect(']');
      }
    } else if (*p == '"') {
      v.kind = JsonValue::String;
      v.str = parse_string();
    } else if (end - p >= 4 && std::string(p, p + 4) == "true") {
      v.kind = JsonValue::Bool, v.b = true, p += 4;
    } else if (end - p >= 5 && std::string(p, p + 5) == "false") {
      v.kind = JsonValue::Bool, p += 5;
    } else if (end - p >= 4 && std::string(p, p + 4) == "null") {
      p += 4;
    } else {
      const char* s = p;
      while (p < end && (std::isdigit((unsigned char)*p) || *p == '-' || *p == '+' || *p == '.' || *p == 'e' || *p == 'E'))
        ++p;
      if (s == p) fail(std::string("unexpected character '") + *s + "'");
      v.kind = JsonValue::Number;
      char* stop = nullptr;
      const std::string text(s, p);
      v.num = std::strtod(text.c_str(), &stop);
      if (stop != text.c_str() + text.size()) fail("bad number '" + clip(text) + "'");
      if (!std::isfinite(v.num)) fail("number '" + clip(text) + "' is out of range");
    }
    --depth;
    return v;
  }
};

}  // namespace

std::string clip_for_message(const std::string& s) {
  const std::string cut = s.size() <= 64 ? s : s.substr(0, 61) + "...";
  // Control characters are written as escapes: a name holding "\n" (legal in JSON) must not split the one-line
  // error a controller logs.
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (const char ch : cut) {
    const unsigned char u = static_cast<unsigned char>(ch);
    if (u >= 0x20 && u != 0x7f) out += ch;
    else if (ch == '\n') out += "\\n";
    else if (ch == '\t') out += "\\t";
    else out += std::string("\\x") + hex[u >> 4] + hex[u & 15];
  }
  return out;
}

JsonValue parse_json(const char* begin, const char* end) {
  Parser ps{begin, end};
  JsonValue v = ps.parse_value();
  ps.ws();
  if (ps.p != end) ps.fail("trailing characters");
  return v;
}

const JsonValue& JsonValue::at(const std::string& key, const std::string& where) const {
  if (kind != Object) throw LoadError(where + " is not a JSON object");
  auto it = obj.find(key);
  if (it == obj.end()) throw LoadError(where + " lacks the key '" + key + "'");
  return it->second;
}
double JsonValue::number(const std::string& where) const {
  if (kind != Number) throw LoadError(where + " must be a number");
  return num;
}
long long JsonValue::integer(const std::string& where) const {
  const double v = number(where);
  if (v != std::floor(v) || std::fabs(v) > 9e15) throw LoadError(where + " must be an integer");
  return (long long)v;
}
int JsonValue::int_in(long long lo, long long hi, const std::string& where) const {
  const long long v = integer(where);
  if (v < lo || v > hi)
    throw LoadError(where + " must be in " + std::to_string(lo) + ".." + std::to_string(hi) + ", got " + std::to_string(v));
  return int(v);
}
bool JsonValue::boolean(const std::string& where) const {
  if (kind != Bool) throw LoadError(where + " must be true or false");
  return b;
}
const std::string& JsonValue::string(const std::string& where) const {
  if (kind != String) throw LoadError(where + " must be a string");
  return str;
}
std::vector<float> JsonValue::floats(const std::string& where) const {
  if (kind != Array) throw LoadError(where + " must be an array of numbers");
  std::vector<float> out;
  for (const auto& e : arr) out.push_back(float(e.number(where)));
  return out;
}
long long JsonValue::get_int(const std::string& key, long long dflt, const std::string& where) const {
  return has(key) ? obj.at(key).integer(where + "." + key) : dflt;
}
int JsonValue::get_int_in(const std::string& key, long long dflt, long long lo, long long hi,
                          const std::string& where) const {
  return has(key) ? obj.at(key).int_in(lo, hi, where + "." + key) : int(dflt);
}
double JsonValue::get_number(const std::string& key, double dflt, const std::string& where) const {
  return has(key) ? obj.at(key).number(where + "." + key) : dflt;
}
bool JsonValue::get_bool(const std::string& key, bool dflt, const std::string& where) const {
  return has(key) ? obj.at(key).boolean(where + "." + key) : dflt;
}
std::string JsonValue::get_string(const std::string& key, const std::string& dflt, const std::string& where) const {
  return has(key) ? obj.at(key).string(where + "." + key) : dflt;
}

void JsonValue::check_keys(std::initializer_list<const char*> known, const std::string& where) const {
  if (kind != Object) throw LoadError(where + " is not a JSON object");
  for (const auto& [key, v] : obj) {
    bool ok = false;
    for (const char* k : known) ok = ok || key == k;
    if (!ok) {
      std::string list;
      for (const char* k : known) list += (list.empty() ? "" : ", ") + std::string(k);
      throw LoadError(where + ": unknown key '" + clip(key) + "' (known: " + list + "); misspelled, or exported by a newer nfp?");
    }
  }
}

}  // namespace nfp::rt
