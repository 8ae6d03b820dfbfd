// openpi's msgpack-numpy encoding: bounded parsing of untrusted frames, numpy arrays in and out.
#include "nfp/msgpack_numpy.hpp"

#include <cstring>
#include <limits>

namespace nfp {

namespace {

bool is_key(const msgpack::object& k, const std::string& key) {
  if (k.type == msgpack::type::STR) return k.via.str.size == key.size() && std::memcmp(k.via.str.ptr, key.data(), key.size()) == 0;
  if (k.type == msgpack::type::BIN) return k.via.bin.size == key.size() && std::memcmp(k.via.bin.ptr, key.data(), key.size()) == 0;
  return false;
}

// Binary values (images) refer into the frame instead of being copied; strings are copied (they are short).
bool reference_binaries(msgpack::type::object_type type, std::size_t, void*) { return type == msgpack::type::BIN; }

bool is_number(const msgpack::object& o) {
  return o.type == msgpack::type::POSITIVE_INTEGER || o.type == msgpack::type::NEGATIVE_INTEGER ||
         o.type == msgpack::type::FLOAT32 || o.type == msgpack::type::FLOAT64;
}

double number(const msgpack::object& o) {
  switch (o.type) {
    case msgpack::type::POSITIVE_INTEGER: return double(o.via.u64);
    case msgpack::type::NEGATIVE_INTEGER: return double(o.via.i64);
    default: return o.via.f64;
  }
}

void pack_key(MsgpackPacker& pk, const char* key) {  // binary, as numpy's packer writes b"..."
  const auto n = uint32_t(std::strlen(key));
  pk.pack_bin(n);
  pk.pack_bin_body(key, n);
}

template <typename T>
T load(const char* p, bool swap) {
  unsigned char b[sizeof(T)];
  std::memcpy(b, p, sizeof(T));
  if (swap)
    for (size_t i = 0; i < sizeof(T) / 2; ++i) std::swap(b[i], b[sizeof(T) - 1 - i]);
  T v;
  std::memcpy(&v, b, sizeof(T));
  return v;
}

}  // namespace

msgpack::object_handle unpack_frame(const char* data, size_t size, const FrameLimits& l) {
  if (size == 0) throw ProtocolError("empty frame: expected one msgpack map");
  size_t off = 0;
  msgpack::object_handle oh;
  try {
    oh = msgpack::unpack(data, size, off, reference_binaries, nullptr,
                         msgpack::unpack_limit(l.max_elements, l.max_elements, l.max_string, l.max_binary,
                                               /*ext*/ 0, l.max_depth));
  } catch (const msgpack::insufficient_bytes&) {
    throw ProtocolError("truncated msgpack frame (" + std::to_string(size) + " bytes)");
  } catch (const std::exception& e) {  // parse_error, *_size_overflow: bounds exceeded or not msgpack
    throw ProtocolError(std::string("not a valid msgpack frame within the server's limits (") + e.what() + ")");
  }
  if (off != size)
    throw ProtocolError("trailing bytes after the msgpack object (" + std::to_string(size - off) + " of " +
                        std::to_string(size) + "); send one map per frame");
  return oh;
}

std::string NdArrayView::dtype() const {
  std::string s(1, item_bytes == 1 ? '|' : big_endian ? '>' : '<');
  return s + kind + std::to_string(item_bytes);
}

const msgpack::object* find_key(const msgpack::object& o, const std::string& key) {
  if (o.type != msgpack::type::MAP) throw ProtocolError("expected a msgpack map");
  for (uint32_t i = 0; i < o.via.map.size; ++i)
    if (is_key(o.via.map.ptr[i].key, key)) return &o.via.map.ptr[i].val;
  return nullptr;
}

std::string to_string(const msgpack::object& o, const std::string& what) {
  if (o.type == msgpack::type::STR) return std::string(o.via.str.ptr, o.via.str.size);
  if (o.type == msgpack::type::BIN) return std::string(o.via.bin.ptr, o.via.bin.size);
  throw ProtocolError(what + " must be a string");
}

std::optional<NdArrayView> as_ndarray(const msgpack::object& o) {
  if (o.type != msgpack::type::MAP || !find_key(o, "__ndarray__")) return std::nullopt;
  const auto* data = find_key(o, "data");
  const auto* dtype = find_key(o, "dtype");
  const auto* shape = find_key(o, "shape");
  if (!data || !dtype || !shape) throw ProtocolError("an __ndarray__ map needs the keys data, dtype and shape");
  if (data->type != msgpack::type::BIN && data->type != msgpack::type::STR)
    throw ProtocolError("an __ndarray__'s data must be bytes");
  NdArrayView a;
  const std::string d = to_string(*dtype, "an __ndarray__'s dtype");
  const bool known = d.size() == 3 && (d[0] == '<' || d[0] == '>' || d[0] == '|' || d[0] == '=') &&
                     std::string("fiub").find(d[1]) != std::string::npos && std::string("1248").find(d[2]) != std::string::npos &&
                     !(d[1] == 'f' && (d[2] == '1' || d[2] == '2')) && !(d[1] == 'b' && d[2] != '1');
  if (!known)
    throw ProtocolError("unsupported ndarray dtype " + nfp::quoted(d.substr(0, 16)) +
                        "; send numbers as float32/float64/int/uint/bool (e.g. '<f4', '|u1')");
  a.kind = d[1];
  a.item_bytes = d[2] - '0';
  a.big_endian = d[0] == '>';
  if (shape->type != msgpack::type::ARRAY || shape->via.array.size > 8)
    throw ProtocolError("an __ndarray__'s shape must be a list of at most 8 sizes");
  uint64_t n = 1;
  for (uint32_t i = 0; i < shape->via.array.size; ++i) {
    const auto& s = shape->via.array.ptr[i];
    if (s.type != msgpack::type::POSITIVE_INTEGER || s.via.u64 > (uint64_t(1) << 40))
      throw ProtocolError("an __ndarray__'s shape must hold non-negative sizes");
    a.shape.push_back(int64_t(s.via.u64));
    n *= s.via.u64;
    if (n > (uint64_t(1) << 40)) throw ProtocolError("an __ndarray__'s shape is too large");
  }
  a.data = data->type == msgpack::type::BIN ? data->via.bin.ptr : data->via.str.ptr;
  a.bytes = data->type == msgpack::type::BIN ? data->via.bin.size : data->via.str.size;
  if (a.bytes != n * uint64_t(a.item_bytes))
    throw ProtocolError("an __ndarray__ of shape and dtype " + d + " needs " + std::to_string(n * uint64_t(a.item_bytes)) +
                        " data bytes, got " + std::to_string(a.bytes));
  return a;
}

std::vector<float> to_floats(const NdArrayView& a) {
  std::vector<float> out(size_t(a.elements()));
  const bool swap = a.big_endian;  // this machine (and every target nfp builds for) is little-endian
  for (size_t i = 0; i < out.size(); ++i) {
    const char* p = a.data + i * size_t(a.item_bytes);
    double v = 0;
    switch (a.kind) {
      case 'f': v = a.item_bytes == 4 ? double(load<float>(p, swap)) : load<double>(p, swap); break;
      case 'b': v = *p != 0; break;
      case 'u':
        v = a.item_bytes == 1 ? double(uint8_t(*p)) : a.item_bytes == 2 ? double(load<uint16_t>(p, swap))
            : a.item_bytes == 4 ? double(load<uint32_t>(p, swap)) : double(load<uint64_t>(p, swap));
        break;
      default:
        v = a.item_bytes == 1 ? double(int8_t(*p)) : a.item_bytes == 2 ? double(load<int16_t>(p, swap))
            : a.item_bytes == 4 ? double(load<int32_t>(p, swap)) : double(load<int64_t>(p, swap));
    }
    out[i] = float(v);
  }
  return out;
}

std::vector<float> to_floats(const msgpack::object& o, const std::string& what) {
  if (auto a = as_ndarray(o)) return to_floats(*a);
  if (is_number(o)) return {float(number(o))};
  if (o.type == msgpack::type::MAP && find_key(o, "__npgeneric__")) {
    const auto* v = find_key(o, "data");
    if (!v || !is_number(*v)) throw ProtocolError(what + ": a numpy scalar needs a numeric data value");
    return {float(number(*v))};
  }
  if (o.type == msgpack::type::ARRAY) {
    std::vector<float> out;
    out.reserve(o.via.array.size);
    for (uint32_t i = 0; i < o.via.array.size; ++i) {
      if (!is_number(o.via.array.ptr[i])) throw ProtocolError(what + " must be a list of numbers or a numpy array");
      out.push_back(float(number(o.via.array.ptr[i])));
    }
    return out;
  }
  throw ProtocolError(what + " must be a numpy array (msgpack-numpy), a number or a list of numbers");
}

json msgpack_to_json(const msgpack::object& o) {
  switch (o.type) {
    case msgpack::type::NIL: return nullptr;
    case msgpack::type::BOOLEAN: return o.via.boolean;
    case msgpack::type::POSITIVE_INTEGER: return o.via.u64;
    case msgpack::type::NEGATIVE_INTEGER: return o.via.i64;
    case msgpack::type::FLOAT32:
    case msgpack::type::FLOAT64: return o.via.f64;
    case msgpack::type::STR:
    case msgpack::type::BIN: return to_string(o, "a value");
    case msgpack::type::ARRAY: {
      json a = json::array();
      for (uint32_t i = 0; i < o.via.array.size; ++i) a.push_back(msgpack_to_json(o.via.array.ptr[i]));
      return a;
    }
    case msgpack::type::MAP: {
      json m = json::object();
      for (uint32_t i = 0; i < o.via.map.size; ++i)
        m[to_string(o.via.map.ptr[i].key, "a map key")] = msgpack_to_json(o.via.map.ptr[i].val);
      return m;
    }
    default: throw ProtocolError("unsupported msgpack value (extension types are not part of the protocol)");
  }
}

void pack_ndarray(MsgpackPacker& pk, const void* data, size_t bytes, const std::string& dtype,
                  const std::vector<int64_t>& shape) {
  pk.pack_map(4);
  pack_key(pk, "__ndarray__");
  pk.pack_true();
  pack_key(pk, "data");
  pk.pack_bin(uint32_t(bytes));
  pk.pack_bin_body(static_cast<const char*>(data), uint32_t(bytes));
  pack_key(pk, "dtype");
  pk.pack(dtype);
  pack_key(pk, "shape");
  pk.pack_array(uint32_t(shape.size()));
  for (auto s : shape) pk.pack(s);
}

void pack_ndarray(MsgpackPacker& pk, const float* data, const std::vector<int64_t>& shape) {
  size_t n = 1;
  for (auto s : shape) n *= size_t(s);
  pack_ndarray(pk, data, n * sizeof(float), "<f4", shape);
}

void pack_json(MsgpackPacker& pk, const json& v) {
  switch (v.type()) {
    case json::value_t::object:
      pk.pack_map(uint32_t(v.size()));
      for (const auto& [k, x] : v.items()) {
        pk.pack(k);
        pack_json(pk, x);
      }
      break;
    case json::value_t::array:
      pk.pack_array(uint32_t(v.size()));
      for (const auto& x : v) pack_json(pk, x);
      break;
    case json::value_t::string: pk.pack(v.get<std::string>()); break;
    case json::value_t::boolean: v.get<bool>() ? pk.pack_true() : pk.pack_false(); break;
    case json::value_t::number_integer: pk.pack(v.get<int64_t>()); break;
    case json::value_t::number_unsigned: pk.pack(v.get<uint64_t>()); break;
    case json::value_t::number_float: pk.pack(v.get<double>()); break;
    default: pk.pack_nil();
  }
}

}  // namespace nfp
