// safetensors round trips, and every way a file can be broken gives one nfp::Error (never a crash).
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>

#include "nfp/atomic_file.hpp"
#include "nfp/error.hpp"
#include "nfp/safetensors.hpp"

namespace nfp {
namespace {

SafeTensorsFile sample_file() {
  SafeTensorsFile f;
  SafeTensor a{"F32", {2, 3}, std::vector<uint8_t>(24)};
  for (size_t i = 0; i < a.data.size(); ++i) a.data[i] = uint8_t(i * 7);
  f.tensors["layer.weight"] = a;
  f.tensors["empty"] = SafeTensor{"I64", {0, 4}, {}};
  f.tensors["scalar"] = SafeTensor{"F64", {}, std::vector<uint8_t>(8, 1)};
  f.metadata["format"] = "pt";
  return f;
}

std::string expect_error(const std::string& bytes) {
  try {
    decode_safetensors(bytes, "model.safetensors");
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "no error for a broken file";
  return "";
}

TEST(SafeTensors, RoundTripsThroughBytesAndFiles) {
  const auto f = sample_file();
  const std::string bytes = encode_safetensors(f);
  // Header length is a u64 LE and the header is padded to 8 bytes.
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(bytes[i]);
  EXPECT_EQ(n % 8, 0u);
  EXPECT_EQ(bytes.size(), 8 + n + 24 + 8);
  auto back = decode_safetensors(bytes, "x");
  ASSERT_EQ(back.tensors.size(), 3u);
  EXPECT_EQ(back.tensors["layer.weight"].data, f.tensors.at("layer.weight").data);
  EXPECT_EQ(back.tensors["layer.weight"].shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(back.tensors["empty"].shape, (std::vector<int64_t>{0, 4}));
  EXPECT_TRUE(back.tensors["scalar"].shape.empty());
  EXPECT_EQ(back.metadata["format"], "pt");

  const auto path = std::filesystem::temp_directory_path() / "nfp_test.safetensors";
  write_safetensors(path, f);
  EXPECT_EQ(read_safetensors(path).tensors["layer.weight"].data, f.tensors.at("layer.weight").data);
  std::filesystem::remove(path);
}

TEST(SafeTensors, ReadsAFileWrittenByTheReferenceLayout) {
  // Hand-built: header {"a":{"dtype":"U8","shape":[3],"data_offsets":[0,3]}} + 3 bytes, no padding (allowed).
  const std::string header = R"({"a":{"dtype":"U8","shape":[3],"data_offsets":[0,3]}})";
  std::string bytes(8, '\0');
  bytes[0] = char(header.size());
  bytes += header + "xyz";
  auto f = decode_safetensors(bytes, "ref");
  EXPECT_EQ(std::string(f.tensors["a"].data.begin(), f.tensors["a"].data.end()), "xyz");
}

TEST(SafeTensors, CorruptFilesGiveOneClearError) {
  const std::string good = encode_safetensors(sample_file());
  EXPECT_NE(expect_error("").find("truncated"), std::string::npos);
  EXPECT_NE(expect_error(good.substr(0, 5)).find("truncated"), std::string::npos);
  EXPECT_NE(expect_error(good.substr(0, 40)).find("truncated"), std::string::npos);
  EXPECT_NE(expect_error(good.substr(0, good.size() - 3)).find("outside the data buffer"), std::string::npos);
  std::string huge = good;
  huge[7] = char(0x7f);  // header length ~ 2^63
  EXPECT_NE(expect_error(huge).find("implausible"), std::string::npos);
  std::string garbage = good;
  garbage[8] = '#';  // the header's opening brace
  EXPECT_NE(expect_error(garbage).find("not JSON"), std::string::npos);

  auto with_header = [](const std::string& h, size_t data) {
    std::string b(8, '\0');
    uint64_t n = h.size();
    for (int i = 0; i < 8; ++i) b[i] = char((n >> (8 * i)) & 0xff);
    return b + h + std::string(data, '\0');
  };
  EXPECT_NE(expect_error(with_header(R"({"a":{"dtype":"Q7","shape":[1],"data_offsets":[0,1]}})", 1)).find("unknown dtype"),
            std::string::npos);
  EXPECT_NE(expect_error(with_header(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}})", 4)).find("need 8"),
            std::string::npos);
  EXPECT_NE(expect_error(with_header(R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", 4)).find("negative"),
            std::string::npos);
  EXPECT_NE(expect_error(with_header(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}})", 4))
                .find("outside the data buffer"),
            std::string::npos);
  EXPECT_NE(expect_error(with_header(R"({"a":{"dtype":"F32"}})", 0)).find("lacks"), std::string::npos);
  EXPECT_NE(expect_error(with_header(R"([1,2])", 0)).find("not a JSON object"), std::string::npos);
  EXPECT_NE(expect_error(with_header(
                             R"({"a":{"dtype":"U8","shape":[4294967296,4294967296],"data_offsets":[0,1]}})", 1))
                .find("too large"),
            std::string::npos);
  // Every message names the file.
  EXPECT_NE(expect_error("").find("model.safetensors"), std::string::npos);
}

// Files nfp writes carry a checksum of their data: every single-byte change of the data is refused, naming the file;
// the metadata the caller set survives, and a file without a checksum (another tool's) is read as it is.
TEST(SafeTensors, WrittenFilesAreChecksummedAndAChangedByteIsRefused) {
  const auto path = std::filesystem::temp_directory_path() / ("nfp_sum_" + std::to_string(::getpid()) + ".safetensors");
  write_safetensors(path, sample_file());
  const std::string good = read_file(path);
  const auto back = decode_safetensors(good, "m");
  EXPECT_EQ(back.metadata.at("format"), "pt");
  EXPECT_EQ(back.metadata.at("nfp_checksum").rfind("fnv1a64:", 0), 0u);
  const size_t data = good.size() - 32;  // the 24 + 8 data bytes at the end
  for (size_t i = data; i < good.size(); ++i) {
    std::string bad = good;
    bad[i] = char(bad[i] ^ 0x01);
    EXPECT_NE(expect_error(bad).find("is corrupt: its checksum does not match"), std::string::npos) << "byte " << i;
  }
  EXPECT_NO_THROW(decode_safetensors(encode_safetensors(sample_file()), "other tool"));
  std::filesystem::remove(path);
}

TEST(SafeTensors, MissingFileIsAnError) {
  EXPECT_THROW(read_safetensors("/nonexistent/dir/model.safetensors"), Error);
}

}  // namespace
}  // namespace nfp
