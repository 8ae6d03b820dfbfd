// openpi's msgpack-numpy encoding: round trips, every dtype the reader takes, and hostile frames.
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "nfp/msgpack_numpy.hpp"

namespace nfp {
namespace {

std::string pack(const std::function<void(MsgpackPacker&)>& f) {
  msgpack::sbuffer buf;
  MsgpackPacker pk(&buf);
  f(pk);
  return std::string(buf.data(), buf.size());
}

// A map {b"__ndarray__": true, b"data": bytes, b"dtype": dtype, b"shape": shape} as numpy's packer writes it.
std::string ndarray_frame(const std::string& bytes, const std::string& dtype, const std::vector<int64_t>& shape) {
  return pack([&](MsgpackPacker& pk) { pack_ndarray(pk, bytes.data(), bytes.size(), dtype, shape); });
}

template <typename T>
std::string raw(const std::vector<T>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}

TEST(MsgpackNumpy, Float32RoundTripWithBinaryKeys) {
  const std::vector<float> v = {1.5f, -2.25f, 3.0f, 0.0f, 1e-3f, 7.0f};
  const auto frame = pack([&](MsgpackPacker& pk) { pack_ndarray(pk, v.data(), {2, 3}); });
  auto h = unpack_frame(frame.data(), frame.size());
  const auto& o = h.get();
  ASSERT_EQ(o.type, msgpack::type::MAP);
  for (uint32_t i = 0; i < o.via.map.size; ++i)  // openpi's client ignores string keys: they must be binary
    EXPECT_EQ(o.via.map.ptr[i].key.type, msgpack::type::BIN);
  auto a = as_ndarray(o);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->dtype(), "<f4");
  EXPECT_EQ(a->shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(to_floats(*a), v);
}

TEST(MsgpackNumpy, EveryNumericDtypeConverts) {
  auto floats = [](const std::string& frame) {
    auto h = unpack_frame(frame.data(), frame.size());
    return to_floats(h.get(), "x");
  };
  EXPECT_EQ(floats(ndarray_frame(raw(std::vector<double>{0.5, -4.0}), "<f8", {2})), (std::vector<float>{0.5f, -4.0f}));
  EXPECT_EQ(floats(ndarray_frame(raw(std::vector<uint8_t>{0, 255}), "|u1", {2})), (std::vector<float>{0, 255}));
  EXPECT_EQ(floats(ndarray_frame(raw(std::vector<int16_t>{-300, 7}), "<i2", {2})), (std::vector<float>{-300, 7}));
  EXPECT_EQ(floats(ndarray_frame(raw(std::vector<int64_t>{-5}), "<i8", {1})), (std::vector<float>{-5}));
  EXPECT_EQ(floats(ndarray_frame(raw(std::vector<uint8_t>{1, 0}), "|b1", {2})), (std::vector<float>{1, 0}));
  // big-endian float32 1.0f is 3f 80 00 00
  EXPECT_EQ(floats(ndarray_frame(std::string("\x3f\x80\x00\x00", 4), ">f4", {1})), (std::vector<float>{1.0f}));
  // a numpy scalar, a plain number, a list
  EXPECT_EQ(floats(pack([](MsgpackPacker& pk) {
              pk.pack_map(3);
              pk.pack_bin(13);
              pk.pack_bin_body("__npgeneric__", 13);
              pk.pack_true();
              pk.pack_bin(4);
              pk.pack_bin_body("data", 4);
              pk.pack(2.5);
              pk.pack_bin(5);
              pk.pack_bin_body("dtype", 5);
              pk.pack(std::string("<f8"));
            })),
            (std::vector<float>{2.5f}));
  EXPECT_EQ(floats(pack([](MsgpackPacker& pk) { pk.pack(-3); })), (std::vector<float>{-3}));
  EXPECT_EQ(floats(pack([](MsgpackPacker& pk) { pk.pack(std::vector<double>{1, 2}); })), (std::vector<float>{1, 2}));
}

TEST(MsgpackNumpy, MalformedArraysAreProtocolErrors) {
  auto check = [](const std::string& frame, const std::string& expect) {
    auto h = unpack_frame(frame.data(), frame.size());
    try {
      to_floats(h.get(), "x");
      ADD_FAILURE() << "accepted a frame that should fail with " << expect;
    } catch (const ProtocolError& e) {
      EXPECT_NE(std::string(e.what()).find(expect), std::string::npos) << e.what();
    }
  };
  check(ndarray_frame(raw(std::vector<float>{1, 2}), "<f4", {3}), "needs 12 data bytes, got 8");
  check(ndarray_frame("abcdefgh", "<U2", {2}), "unsupported ndarray dtype");
  check(ndarray_frame("abcdefgh", "<c8", {1}), "unsupported ndarray dtype");
  check(ndarray_frame("ab", "<f2", {1}), "unsupported ndarray dtype");
  check(ndarray_frame("", "<f4", {1ll << 41}), "non-negative sizes");
  check(ndarray_frame("", "<f4", {1ll << 30, 1ll << 30}), "too large");
  check(pack([](MsgpackPacker& pk) {  // a negative size
          pk.pack_map(4);
          for (const char* k : {"__ndarray__", "data", "dtype", "shape"}) {
            pk.pack_bin(uint32_t(std::strlen(k)));
            pk.pack_bin_body(k, uint32_t(std::strlen(k)));
            if (k[2] == 'n') pk.pack_true();
            else if (k[1] == 'a') pk.pack_bin(0);
            else if (k[1] == 't') pk.pack(std::string("<f4"));
            else pk.pack(std::vector<int>{-1});
          }
        }),
        "non-negative sizes");
  check(pack([](MsgpackPacker& pk) {  // claims to be an array, lacks data
          pk.pack_map(1);
          pk.pack_bin(11);
          pk.pack_bin_body("__ndarray__", 11);
          pk.pack_true();
        }),
        "needs the keys data, dtype and shape");
  check(pack([](MsgpackPacker& pk) { pk.pack(std::string("0.5")); }), "must be a numpy array");
  check(pack([](MsgpackPacker& pk) { pk.pack(std::vector<std::string>{"a"}); }), "list of numbers");
}

TEST(MsgpackNumpy, HostileFramesAreBoundedErrors) {
  auto rejects = [](const std::string& frame, const std::string& expect) {
    try {
      unpack_frame(frame.data(), frame.size());
      ADD_FAILURE() << "accepted a frame that should fail with " << expect;
    } catch (const ProtocolError& e) {
      EXPECT_NE(std::string(e.what()).find(expect), std::string::npos) << e.what();
    }
  };
  rejects("", "empty frame");
  rejects(std::string("\x82\xa1", 2), "truncated");                       // a map of 2 whose first key is cut
  rejects(std::string("\xdf\xff\xff\xff\xff", 5), "within the server's limits");  // claims 2^32-1 entries
  rejects(std::string("\xc1", 1), "not a valid msgpack frame");           // the one reserved byte
  rejects(std::string("\x80\x80", 2), "trailing bytes");                  // two objects in one frame
  rejects(std::string(100, '\x91') + "\x00", "within the server's limits");  // 100 nested arrays
  rejects(std::string("\xc7\x01\x05\x00", 4), "within the server's limits");  // an extension type
}

// Random single-byte changes of a valid frame: each is either parsed or refused with ProtocolError; never a crash
// or another exception type (ASan/UBSan builds check the memory side, issue 23).
TEST(MsgpackNumpy, MutatedFramesNeverEscapeAsOtherErrors) {
  const std::vector<float> v(16, 0.25f);
  const auto good = pack([&](MsgpackPacker& pk) {
    pk.pack_map(2);
    pk.pack(std::string("state"));
    pack_ndarray(pk, v.data(), {4, 4});
    pk.pack(std::string("prompt"));
    pk.pack(std::string("push the block"));
  });
  std::mt19937 rng(7);
  int parsed = 0, refused = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string f = good;
    const int edits = 1 + int(rng() % 3);
    for (int e = 0; e < edits; ++e) f[rng() % f.size()] = char(rng() & 0xff);
    if (rng() % 4 == 0) f.resize(rng() % f.size());
    try {
      auto h = unpack_frame(f.data(), f.size());
      if (const auto* s = h.get().type == msgpack::type::MAP ? find_key(h.get(), "state") : nullptr) to_floats(*s, "state");
      ++parsed;
    } catch (const ProtocolError&) {
      ++refused;
    }
  }
  EXPECT_GT(refused, 100);
  EXPECT_GT(parsed, 100);
}

TEST(MsgpackNumpy, JsonValuesRoundTrip) {
  const json j = {{"a", 1}, {"b", {1.5, -2}}, {"c", {{"d", "x"}, {"e", true}, {"f", nullptr}}}};
  const auto frame = pack([&](MsgpackPacker& pk) { pack_json(pk, j); });
  auto h = unpack_frame(frame.data(), frame.size());
  EXPECT_EQ(msgpack_to_json(h.get()), j);
}

}  // namespace
}  // namespace nfp
