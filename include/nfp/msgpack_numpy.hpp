// openpi's msgpack-numpy encoding (openpi_client/msgpack_numpy.py), read and written with msgpack-cxx: a numpy
// array travels as a map with msgpack *binary* keys
//   {b"__ndarray__": true, b"data": <raw bytes, C order>, b"dtype": "<f4", b"shape": [H, A]}
// and a numpy scalar as {b"__npgeneric__": true, b"data": <value>, b"dtype": "<f8"}. Keys written as strings
// would be ignored by the Python client, so writers here always use binary keys; readers accept either.
//   msgpack::object_handle oh = nfp::unpack_frame(bytes, size);           // bounded, whole frame, or ProtocolError
//   if (auto a = nfp::as_ndarray(oh.get())) std::vector<float> v = nfp::to_floats(*a);
//   nfp::pack_ndarray(packer, data, {H, A});                               // float32, "<f4"
#pragma once
#include <msgpack.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "nfp/error.hpp"
#include "nfp/json_io.hpp"

namespace nfp {

// A request or reply that does not follow the protocol (the server answers it with an error to that client).
struct ProtocolError : Error {
  using Error::Error;
};

// Bounds on what one frame may declare, checked before msgpack allocates anything for it.
struct FrameLimits {
  size_t max_elements = 1 << 16;  // entries of one map or array
  size_t max_string = 1 << 16;    // bytes of one string (an instruction)
  size_t max_binary = size_t(1) << 31;  // bytes of one binary value (an image's data)
  size_t max_depth = 8;           // nesting
};

// Parses exactly one msgpack object from the frame (trailing bytes are an error). Binary values refer into
// `data`, which must outlive the handle. Throws ProtocolError naming what was wrong.
msgpack::object_handle unpack_frame(const char* data, size_t size, const FrameLimits& limits = {});

// A numpy array inside a frame, by reference.
struct NdArrayView {
  char kind = 'f';            // numpy's kind: f (float), i (signed), u (unsigned), b (bool)
  int item_bytes = 4;         // 1, 2, 4 or 8
  bool big_endian = false;
  std::vector<int64_t> shape;
  const char* data = nullptr;
  size_t bytes = 0;           // == product(shape) * item_bytes
  int64_t elements() const { return int64_t(bytes / size_t(item_bytes)); }
  std::string dtype() const;  // back to numpy's string: "<f4", "|u1"
};

// The array `o` encodes, nullopt if `o` is not an {__ndarray__} map; ProtocolError if it claims to be one but is
// malformed (unknown dtype, negative or overflowing shape, data size not matching the shape).
std::optional<NdArrayView> as_ndarray(const msgpack::object& o);
// Numbers as float: an ndarray (any numeric dtype), a numpy scalar ({__npgeneric__}), a msgpack number, or an
// array of msgpack numbers. ProtocolError for anything else (`what` names the value in the message).
std::vector<float> to_floats(const msgpack::object& o, const std::string& what);
std::vector<float> to_floats(const NdArrayView& a);
// A msgpack string (or binary) as std::string; ProtocolError otherwise.
std::string to_string(const msgpack::object& o, const std::string& what);
// The value under string (or binary) key `key` of map `o`, nullptr if absent; ProtocolError if `o` is no map.
const msgpack::object* find_key(const msgpack::object& o, const std::string& key);

// A msgpack value as JSON (maps with string or binary keys as objects, binary values as strings); for metadata
// and timings, not arrays.
json msgpack_to_json(const msgpack::object& o);

using MsgpackPacker = msgpack::packer<msgpack::sbuffer>;
// An ndarray of numpy dtype `dtype` ("<f4", "|u1") and the given shape from `bytes` bytes of C-order data.
void pack_ndarray(MsgpackPacker& pk, const void* data, size_t bytes, const std::string& dtype,
                  const std::vector<int64_t>& shape);
// A float32 ndarray ("<f4") of the given shape from product(shape) floats.
void pack_ndarray(MsgpackPacker& pk, const float* data, const std::vector<int64_t>& shape);
// A JSON value as msgpack (objects as maps with string keys, as openpi's server sends its metadata).
void pack_json(MsgpackPacker& pk, const json& value);

}  // namespace nfp
