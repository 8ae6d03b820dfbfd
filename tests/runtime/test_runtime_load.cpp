// The loader's validation (src/runtime/model_load.cpp, model_build.cpp, layer_kinds.cpp, json_lite.cpp): every
// size bounded before use, unknown keys named, weights and statistics finite, the checksum verified. Each bad
// file is refused with one line (C API: a null model and the line in the caller's buffer), never a crash.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>

#include "nfp/runtime.h"
#include "runtime_fixtures.hpp"

namespace nfp {
namespace {

std::string bytes_of(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}
void write_bytes(const std::filesystem::path& p, const std::string& b) { std::ofstream(p, std::ios::binary) << b; }

// A push-two-goals-shaped nfp-spline policy (horizon 4, action 2, encoder input 14) exported to `name`.
std::filesystem::path exported_policy(const std::string& name) {
  static Policy p = test::random_policy("nfp-spline", true, true);
  const auto path = test::temp_path(name);
  export_policy(*p, path);
  return path;
}

// Loads through the C API: empty when it loads, else the error line (which must be one line).
std::string load_error(const std::filesystem::path& path) {
  char err[1024] = "";
  nfp_rt_model* m = nfp_rt_model_load(path.string().c_str(), err, sizeof err);
  if (m) {
    nfp_rt_model_free(m);
    return "";
  }
  EXPECT_NE(err[0], '\0');
  EXPECT_EQ(std::string(err).find('\n'), std::string::npos) << err;
  return err;
}

void expect_refused(const std::filesystem::path& path, const std::string& fragment) {
  const std::string err = load_error(path);
  EXPECT_NE(err.find(fragment), std::string::npos) << "expected '" << fragment << "' in: " << err;
}

// The reproducer of issue 23's SIGFPE: an exported policy whose runtime config says "horizon": 0.
TEST(RuntimeLoad, HorizonZeroIsRefusedNotADivisionByZero) {
  const auto path = exported_policy("horizon0.nfpr");
  test::edit_nfpr(path, [](json& c) { c["horizon"] = 0; });
  expect_refused(path, "config.horizon must be in 1..8, got 0");
  EXPECT_THROW(runtime::Model(path.string()), std::runtime_error);
  for (json bad : {json(-1), json(4294967296LL), json(4294967297LL), json(3), json(2.5)}) {
    test::edit_nfpr(path, [&](json& c) { c["horizon"] = bad; });
    EXPECT_NE(load_error(path).find("config.horizon"), std::string::npos) << bad;
  }
  std::filesystem::remove(path);
}

// Every number of the config (outside the "flow" provenance) set to 0, -1, 2^31, 2^32 + 1 or 1e300: the load
// either fails with one line or gives a model whose sample call is OK with finite actions. Before the fix a
// policy section with stride 0 or n_action_steps 0 loaded, and the control loop trusting it crashed.
TEST(RuntimeLoad, EveryConfigIntegerIsBounded) {
  const auto path = exported_policy("ints.nfpr");
  const json original = json::parse(read_safetensors(path).metadata.at("nfp_runtime"));
  std::vector<json::json_pointer> numbers;
  const json flat = original.flatten();
  for (const auto& [ptr, v] : flat.items())
    if (v.is_number() && ptr.rfind("/flow/", 0) != 0 && ptr.rfind("/normalization/", 0) != 0 &&
        ptr.rfind("/policy/inference/", 0) != 0)
      numbers.emplace_back(ptr);
  ASSERT_GT(numbers.size(), 15u);
  const auto pristine = bytes_of(path);
  int refused = 0;
  for (const auto& ptr : numbers)
    for (json v : {json(0), json(-1), json(2147483648LL), json(4294967297LL), json(1e300)}) {
      write_bytes(path, pristine);
      test::edit_nfpr(path, [&](json& c) { c[ptr] = v; });
      const std::string err = load_error(path);
      if (!err.empty()) {
        ++refused;
        continue;
      }
      runtime::Model m(path.string());
      runtime::Workspace ws(m, 1);
      std::vector<float> obs(size_t(m.info().obs_dim), 0.1f), a(size_t(m.info().dim));
      ASSERT_EQ(ws.sample(obs, 1.0f, 3, a), NFP_RT_OK) << ptr << " = " << v;
      for (float x : a) ASSERT_TRUE(std::isfinite(x)) << ptr << " = " << v;
    }
  EXPECT_GT(refused, int(numbers.size()) * 3) << "most of these values are out of range";
  // The policy contract a control loop reads is checked against the encoder's input.
  for (const char* key : {"/policy/stride", "/policy/n_action_steps", "/policy/history", "/policy/obs_dims/0"}) {
    write_bytes(path, pristine);
    test::edit_nfpr(path, [&](json& c) { c[json::json_pointer(key)] = 0; });
    EXPECT_NE(load_error(path).find("config.policy"), std::string::npos) << key;
  }
  write_bytes(path, pristine);
  test::edit_nfpr(path, [](json& c) { c["policy"]["obs_dims"][0] = 5; });
  expect_refused(path, "but the encoder's state input is 14");
  std::filesystem::remove(path);
}

// The config's first spline coupling entry.
json& spline_entry(json& c) {
  for (auto& l : c["layers"])
    if (l["kind"] == "spline_coupling") return l;
  throw std::runtime_error("no spline coupling in the exported policy");
}

// A misspelled key would be ignored and its default used: a misspelled normalization key made normalization the
// identity. Every object of the config refuses keys it does not know, naming the key.
TEST(RuntimeLoad, UnknownKeysAreNamed) {
  const auto path = exported_policy("keys.nfpr");
  const auto pristine = bytes_of(path);
  const std::vector<std::pair<std::function<void(json&)>, std::string>> cases = {
      {[](json& c) { c["normalization"]["action_stdev"] = c["normalization"]["action_std"]; c["normalization"].erase("action_std"); },
       "config.normalization: unknown key 'action_stdev'"},
      {[](json& c) { c["horizn"] = 4; }, "config: unknown key 'horizn'"},
      {[](json& c) { c["encoder"]["hiden"] = 24; }, "config.encoder: unknown key 'hiden'"},
      {[](json& c) { c["policy"]["strid"] = 1; }, "config.policy: unknown key 'strid'"},
      {[](json& c) { spline_entry(c)["conditioner"]["hiden"] = 3; }, "unknown key 'hiden'"},
      {[](json& c) { spline_entry(c)["spline"]["binz"] = 3; }, "unknown key 'binz'"},
      {[](json& c) { spline_entry(c)["conditioner"]["heads"] = 3; }, "belongs to a transformer conditioner"},
      {[](json& c) { c[std::string(5000, 'k')] = 1; }, "unknown key 'kkkk"},
  };
  for (const auto& [edit, fragment] : cases) {
    write_bytes(path, pristine);
    test::edit_nfpr(path, edit);
    const std::string err = load_error(path);
    EXPECT_NE(err.find(fragment), std::string::npos) << err;
    EXPECT_LT(err.size(), 600u) << "a long key is truncated in the message";
  }
  std::filesystem::remove(path);
}

TEST(RuntimeLoad, WeightsAndStatisticsMustBeFinite) {
  const auto path = exported_policy("finite.nfpr");
  const auto pristine = bytes_of(path);
  {  // a NaN weight, the checksum re-sealed (so it is the finiteness check that refuses it)
    SafeTensorsFile f = read_safetensors(path);
    const json cfg = json::parse(f.metadata.at("nfp_runtime"));
    const float nan = std::nanf("");
    std::memcpy(f.tensors.at("encoder.0.weight").data.data() + 8, &nan, 4);
    write_nfpr(f, cfg, path);
    expect_refused(path, "weight 'encoder.0.weight' holds a non-finite value");
  }
  write_bytes(path, pristine);
  test::edit_nfpr(path, [](json& c) { c["normalization"]["obs_std"][2] = 1e39; });  // beyond float
  expect_refused(path, "config.normalization.obs_std holds a non-finite value");
  write_bytes(path, pristine);
  test::edit_nfpr(path, [](json& c) { c["normalization"]["action_std"][0] = 1e-39; });  // 1 / std overflows
  expect_refused(path, "config.normalization.action_std must be > 0");
  write_bytes(path, pristine);
  test::edit_nfpr(path, [](json& c) { c["normalization"]["action_mean"] = json(nullptr); });  // NaN dumps as null
  expect_refused(path, "action_mean must be an array of numbers");
  write_bytes(path, pristine);
  test::edit_nfpr(path, [](json& c) { c["normalization"].erase("action_std"); });
  expect_refused(path, "a mean needs its std");
  std::filesystem::remove(path);
}

// One changed byte anywhere in the weights or in the config is refused by the checksum, with a message that
// says the file is corrupt; a file without a checksum is refused with the re-export hint.
TEST(RuntimeLoad, ChecksumCatchesAFlippedByte) {
  const auto path = exported_policy("checksum.nfpr");
  const std::string good = bytes_of(path);
  ASSERT_EQ(load_error(path), "");
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | (unsigned char)good[size_t(i)];
  const size_t data = 8 + n;
  for (size_t at : {data, data + 1, data + (good.size() - data) / 2, good.size() - 1}) {
    std::string bad = good;
    bad[at] = char(bad[at] ^ 0x01);  // one bit: a weight changes by a tiny amount, still finite
    write_bytes(path, bad);
    expect_refused(path, "checksum mismatch");
    expect_refused(path, "the file is corrupt");
  }
  // A digit of the config (inside the header's JSON string): 0.8 -> 0.9 in sigma.
  const size_t sigma = good.find("\\\"sigma\\\":0.8");
  ASSERT_NE(sigma, std::string::npos);
  std::string bad = good;
  bad[good.find("0.8", sigma)] = '0', bad[good.find("0.8", sigma) + 2] = '9';
  write_bytes(path, bad);
  expect_refused(path, "checksum mismatch");
  // No checksum at all.
  write_bytes(path, good);
  SafeTensorsFile f = read_safetensors(path);
  f.metadata.erase("nfp_checksum");
  write_safetensors(path, f);
  expect_refused(path, "has no __metadata__.nfp_checksum");
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace nfp
