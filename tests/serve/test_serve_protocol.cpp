// Requests out of msgpack maps: default keys, openpi/LIBERO key maps, images in both layouts, and every way a
// request can be wrong, each refused with a message naming the key.
#include <gtest/gtest.h>

#include "nfp/serve_protocol.hpp"

namespace nfp {
namespace {

AgentSpec spec() {  // state (3) + gripper (2), one 4 x 5 camera, an instruction
  AgentSpec s;
  s.task = "t";
  s.policy = "nfp-spline";
  s.action_dim = 2;
  s.obs_keys = {"eef", "gripper"};
  s.obs_dims = {3, 2};
  s.cameras = {"top_image"};
  s.image_hw = {4, 5};
  s.instruction = true;
  s.horizon = 8;
  s.n_action_steps = 4;
  return s;
}

struct Frame {
  msgpack::sbuffer buf;
  MsgpackPacker pk{&buf};
  std::string bytes() const { return std::string(buf.data(), buf.size()); }
};

std::vector<uint8_t> pixels(int h, int w) {
  std::vector<uint8_t> p(size_t(h * w * 3));
  for (size_t i = 0; i < p.size(); ++i) p[i] = uint8_t(i * 7);
  return p;
}

// A request with the given fields: "eef"/"gripper"/state keys are float32 arrays of `widths`, "top_image" HWC.
std::string request(const std::vector<std::pair<std::string, int>>& floats, bool image = true, bool chw = false,
                    const std::string& prompt_key = "prompt", const std::string& mode = "") {
  Frame f;
  f.pk.pack_map(uint32_t(floats.size() + (image ? 1 : 0) + (prompt_key.empty() ? 0 : 1) + (mode.empty() ? 0 : 1)));
  for (const auto& [k, n] : floats) {
    std::vector<float> v(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) v[size_t(i)] = float(i) + 0.5f;
    f.pk.pack(k);
    pack_ndarray(f.pk, v.data(), {n});
  }
  if (image) {
    auto p = pixels(4, 5);
    if (chw) {  // (3 x 4 x 5) holding the same picture
      std::vector<uint8_t> c(p.size());
      for (int y = 0; y < 4; ++y)
        for (int x = 0; x < 5; ++x)
          for (int ch = 0; ch < 3; ++ch) c[size_t(ch * 20 + y * 5 + x)] = p[size_t((y * 5 + x) * 3 + ch)];
      f.pk.pack(std::string("top_image"));
      pack_ndarray(f.pk, c.data(), c.size(), "|u1", {3, 4, 5});
    } else {
      f.pk.pack(std::string("top_image"));
      pack_ndarray(f.pk, p.data(), p.size(), "|u1", {4, 5, 3});
    }
  }
  if (!prompt_key.empty()) {
    f.pk.pack(prompt_key);
    f.pk.pack(std::string("push it"));
  }
  if (!mode.empty()) {
    f.pk.pack(std::string("mode"));
    f.pk.pack(mode);
  }
  return f.bytes();
}

Request decode(const std::string& bytes, const KeyMap& km = {}) {
  auto h = unpack_frame(bytes.data(), bytes.size());
  return decode_request(h.get(), spec(), km);
}

std::string error_of(const std::string& bytes, const KeyMap& km = {}) {
  try {
    decode(bytes, km);
  } catch (const ProtocolError& e) {
    return e.what();
  }
  return "(accepted)";
}

TEST(ServeProtocol, DefaultKeysAndOpenpiPrompt) {
  auto r = decode(request({{"eef", 3}, {"gripper", 2}}));
  EXPECT_EQ(r.kind, Request::Kind::kChunk);
  EXPECT_EQ(r.obs.lowdim.at("eef"), (std::vector<float>{0.5f, 1.5f, 2.5f}));
  EXPECT_EQ(r.obs.lowdim.at("gripper"), (std::vector<float>{0.5f, 1.5f}));
  EXPECT_EQ(r.obs.images.at("top_image").pixels, pixels(4, 5));
  EXPECT_EQ(r.obs.instruction, "push it");
  EXPECT_EQ(decode(request({{"eef", 3}, {"gripper", 2}}, true, false, "instruction")).obs.instruction, "push it");
  EXPECT_EQ(decode(request({{"eef", 3}, {"gripper", 2}}, true, false, "prompt", "step")).kind, Request::Kind::kStep);
}

TEST(ServeProtocol, ChannelFirstImagesBecomeChannelLast) {
  EXPECT_EQ(decode(request({{"eef", 3}, {"gripper", 2}}, true, true)).obs.images.at("top_image").pixels, pixels(4, 5));
}

TEST(ServeProtocol, LiberoStyleKeyMapSplitsAConcatenatedState) {
  const KeyMap km = keymap_from_json(
      {{"observation/state", {"eef", "gripper"}}, {"observation/image", "top_image"}, {"task", "instruction"}}, spec(), "test");
  Frame f;
  std::vector<float> state = {1, 2, 3, 4, 5};
  auto p = pixels(4, 5);
  f.pk.pack_map(3);
  f.pk.pack(std::string("observation/state"));
  pack_ndarray(f.pk, state.data(), {5});
  f.pk.pack(std::string("observation/image"));
  pack_ndarray(f.pk, p.data(), p.size(), "|u1", {4, 5, 3});
  f.pk.pack(std::string("task"));
  f.pk.pack(std::string("open the drawer"));
  auto r = decode(f.bytes(), km);
  EXPECT_EQ(r.obs.lowdim.at("eef"), (std::vector<float>{1, 2, 3}));
  EXPECT_EQ(r.obs.lowdim.at("gripper"), (std::vector<float>{4, 5}));
  EXPECT_EQ(r.obs.instruction, "open the drawer");
  EXPECT_NE(error_of(request({{"observation/state", 4}}), km).find("'observation/state' has 4 values, expected 5"),
            std::string::npos);
}

TEST(ServeProtocol, BadKeyMapsAreRefused) {
  auto err = [](const json& j) {
    try {
      keymap_from_json(j, spec(), "km");
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("(accepted)");
  };
  EXPECT_NE(err({{"x", "nope"}}).find("does not read (it reads: eef, gripper, top_image, instruction)"), std::string::npos);
  EXPECT_NE(err({{"reset", "eef"}}).find("reserved"), std::string::npos);
  EXPECT_NE(err({{"a", "eef"}, {"b", "eef"}}).find("mapped twice"), std::string::npos);
  EXPECT_NE(err({{"a", {"top_image", "eef"}}}).find("only low-dim keys"), std::string::npos);
  EXPECT_NE(err({{"a", 3}}).find("must be a key or a non-empty list"), std::string::npos);
  EXPECT_NE(err(json::array()).find("JSON object"), std::string::npos);
}

TEST(ServeProtocol, ResetMessages) {
  Frame f;
  pack_json(f.pk, {{"reset", true}, {"seed", 42}});
  auto r = decode(f.bytes());
  EXPECT_EQ(r.kind, Request::Kind::kReset);
  EXPECT_EQ(r.seed, 42u);
  Frame g;
  pack_json(g.pk, {{"reset", true}, {"seed", -1}});
  EXPECT_NE(error_of(g.bytes()).find("'seed' must be a non-negative integer"), std::string::npos);
  Frame h;
  pack_json(h.pk, {{"reset", 1}});
  EXPECT_NE(error_of(h.bytes()).find("'reset' must be true"), std::string::npos);
}

TEST(ServeProtocol, EveryWrongRequestNamesWhatWasWrong) {
  EXPECT_NE(error_of(request({{"eef", 3}})).find("lacks observation 'gripper'"), std::string::npos);
  EXPECT_NE(error_of(request({{"eef", 4}, {"gripper", 2}})).find("'eef' has 4 values, expected 3"), std::string::npos);
  EXPECT_NE(error_of(request({{"eef", 3}, {"gripper", 2}}, false)).find("lacks camera image 'top_image'"), std::string::npos);
  EXPECT_NE(error_of(request({{"eef", 3}, {"gripper", 2}}, true, false, "")).find("lacks the instruction"), std::string::npos);
  EXPECT_NE(error_of(request({{"eef", 3}, {"gripper", 2}}, true, false, "prompt", "fast")).find("'mode' must be"),
            std::string::npos);
  {  // NaN
    Frame f;
    std::vector<float> eef = {0, NAN, 0}, g = {0, 0};
    f.pk.pack_map(2);
    f.pk.pack(std::string("eef"));
    pack_ndarray(f.pk, eef.data(), {3});
    f.pk.pack(std::string("gripper"));
    pack_ndarray(f.pk, g.data(), {2});
    EXPECT_NE(error_of(f.bytes()).find("'eef' contains NaN or Inf"), std::string::npos);
  }
  {  // a float image, a 2-channel image
    Frame f;
    std::vector<float> eef = {0, 0, 0}, g = {0, 0}, img(60, 0.5f);
    f.pk.pack_map(3);
    f.pk.pack(std::string("eef"));
    pack_ndarray(f.pk, eef.data(), {3});
    f.pk.pack(std::string("gripper"));
    pack_ndarray(f.pk, g.data(), {2});
    f.pk.pack(std::string("top_image"));
    pack_ndarray(f.pk, img.data(), {4, 5, 3});
    EXPECT_NE(error_of(f.bytes()).find("must be a uint8 numpy array"), std::string::npos);
  }
  Frame not_a_map;
  not_a_map.pk.pack(std::vector<int>{1, 2});
  EXPECT_NE(error_of(not_a_map.bytes()).find("must be a msgpack map"), std::string::npos);
}

TEST(ServeProtocol, MetadataDescribesWhatToSend) {
  const KeyMap km = keymap_from_json({{"observation/state", {"eef", "gripper"}}}, spec(), "test");
  const json m = server_metadata(spec(), km, "my-model", 20, true);
  EXPECT_EQ(m["protocol"], kServeProtocol);
  EXPECT_EQ(m["model"], "my-model");
  EXPECT_EQ(m["action_dim"], 2);
  EXPECT_EQ(m["horizon"], 8);
  EXPECT_EQ(m["n_action_steps"], 4);
  EXPECT_EQ(m["control_hz"], 20.0);
  EXPECT_EQ(m["observation"][0]["name"], "eef");
  EXPECT_EQ(m["observation"][0]["key"], "observation/state");
  EXPECT_EQ(m["observation"][1]["shape"], json({2}));
  EXPECT_EQ(m["cameras"][0]["shape"], json({4, 5, 3}));
  EXPECT_EQ(m["instruction_key"], "prompt");
  EXPECT_TRUE(m["has_log_prob"].get<bool>());
}

TEST(ServeProtocol, ActionsReplyCarriesTimingsAndLogProb) {
  const std::vector<float> a = {1, 2, 3, 4};
  ReplyInfo info;
  info.log_prob = -3.5;
  info.strategy = "sbs";
  info.infer_ms = 1.25;
  info.batch_size = 3;
  const auto bytes = encode_actions_reply(a.data(), 2, 2, false, info);
  auto h = unpack_frame(bytes.data(), bytes.size());
  auto arr = as_ndarray(*find_key(h.get(), "actions"));
  ASSERT_TRUE(arr);
  EXPECT_EQ(arr->shape, (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(to_floats(*arr), a);
  const json j = msgpack_to_json(h.get());
  EXPECT_EQ(j["log_prob"], -3.5);
  EXPECT_EQ(j["strategy"], "sbs");
  EXPECT_EQ(j["server_timing"]["batch_size"], 3);
  EXPECT_EQ(j["policy_timing"]["infer_ms"], 1.25);
  EXPECT_FALSE(j.contains("planned"));
  info.log_prob = NAN;
  const auto step = encode_actions_reply(a.data(), 1, 2, true, info);
  auto hs = unpack_frame(step.data(), step.size());
  const json js = msgpack_to_json(hs.get());
  EXPECT_TRUE(js["log_prob"].is_null());
  EXPECT_TRUE(js["planned"].get<bool>());
}

}  // namespace
}  // namespace nfp
