// The server's requests and replies: observations out of msgpack maps, actions and timings into them.
#include "nfp/serve_protocol.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>

namespace nfp {

namespace {

const char* const kReserved[] = {"reset", "seed", "mode"};
const char* const kInstruction = "instruction";

bool is_lowdim(const AgentSpec& s, const std::string& k) {
  return std::find(s.obs_keys.begin(), s.obs_keys.end(), k) != s.obs_keys.end();
}
bool is_camera(const AgentSpec& s, const std::string& k) {
  return std::find(s.cameras.begin(), s.cameras.end(), k) != s.cameras.end();
}
int64_t width_of(const AgentSpec& s, const std::string& k) {
  return s.obs_dims[size_t(std::find(s.obs_keys.begin(), s.obs_keys.end(), k) - s.obs_keys.begin())];
}

// The client key that holds `target`: the key map's, else the target's own name.
std::string source_of(const KeyMap& m, const std::string& target) {
  for (const auto& [client, targets] : m.entries)
    if (std::find(targets.begin(), targets.end(), target) != targets.end()) return client;
  return target;
}

Image decode_image(const msgpack::object& o, const std::string& key) {
  auto a = as_ndarray(o);
  if (!a || a->kind != 'u' || a->item_bytes != 1 || a->shape.size() != 3)
    throw ProtocolError("camera " + nfp::quoted(key) + " must be a uint8 numpy array (H x W x 3 or 3 x H x W)");
  const bool hwc = a->shape[2] == 3;
  if (!hwc && a->shape[0] != 3)
    throw ProtocolError("camera " + nfp::quoted(key) + " must have 3 channels (H x W x 3 or 3 x H x W), got shape " +
                        std::to_string(a->shape[0]) + " x " + std::to_string(a->shape[1]) + " x " + std::to_string(a->shape[2]));
  Image img;
  img.height = int(hwc ? a->shape[0] : a->shape[1]);
  img.width = int(hwc ? a->shape[1] : a->shape[2]);
  const auto* p = reinterpret_cast<const uint8_t*>(a->data);
  if (hwc) {
    img.pixels.assign(p, p + a->bytes);
  } else {  // (3 x H x W) -> (H x W x 3)
    const size_t hw = size_t(img.height) * size_t(img.width);
    img.pixels.resize(hw * 3);
    for (size_t c = 0; c < 3; ++c)
      for (size_t i = 0; i < hw; ++i) img.pixels[i * 3 + c] = p[c * hw + i];
  }
  return img;
}

}  // namespace

KeyMap keymap_from_json(const json& j, const AgentSpec& spec, const std::string& where) {
  require(j.is_object(), where + ": a key map is a JSON object {client key: target or [targets]}");
  KeyMap m;
  std::vector<std::string> seen;
  for (const auto& item : j.items()) {
    const std::string client = item.key();
    const json& v = item.value();
    require(std::none_of(std::begin(kReserved), std::end(kReserved), [&](const char* r) { return client == r; }),
            where + ": " + nfp::quoted(client) + " is reserved by the protocol (reset, seed, mode); map another key");
    std::vector<std::string> targets;
    if (v.is_string()) targets = {v.get<std::string>()};
    else if (v.is_array() && !v.empty() && std::all_of(v.begin(), v.end(), [](const json& x) { return x.is_string(); }))
      targets = v.get<std::vector<std::string>>();
    else
      throw Error(where + ": the value of " + nfp::quoted(client) + " must be a key or a non-empty list of keys");
    for (const auto& t : targets) {
      const bool lowdim = is_lowdim(spec, t), camera = is_camera(spec, t), instr = t == kInstruction;
      std::string known;
      for (const auto& k : spec.obs_keys) known += (known.empty() ? "" : ", ") + k;
      for (const auto& k : spec.cameras) known += (known.empty() ? "" : ", ") + k;
      if (spec.instruction) known += std::string(known.empty() ? "" : ", ") + kInstruction;
      require(lowdim || camera || (instr && spec.instruction),
              where + ": " + nfp::quoted(client) + " maps to " + nfp::quoted(t) + ", which this policy does not read (it reads: " +
                  known + ")");
      require(targets.size() == 1 || lowdim,
              where + ": only low-dim keys can share one client key (a concatenated state); " + nfp::quoted(t) + " cannot");
      require(std::find(seen.begin(), seen.end(), t) == seen.end(), where + ": " + nfp::quoted(t) + " is mapped twice");
      seen.push_back(t);
    }
    m.entries[client] = targets;
  }
  return m;
}

KeyMap read_keymap(const std::string& path, const AgentSpec& spec) {
  std::ifstream in(path);
  require(bool(in), "cannot read the key map " + nfp::quoted(path));
  json j = json::parse(in, nullptr, /*allow_exceptions*/ false);
  require(!j.is_discarded(), "the key map " + nfp::quoted(path) + " is not valid JSON");
  return keymap_from_json(j, spec, "key map " + nfp::quoted(path));
}

json server_metadata(const AgentSpec& s, const KeyMap& keymap, const std::string& model, double control_hz,
                     bool has_log_prob) {
  json obs = json::array(), cams = json::array(), km = json::object();
  for (size_t i = 0; i < s.obs_keys.size(); ++i)
    obs.push_back({{"name", s.obs_keys[i]}, {"dtype", "float32"}, {"shape", {s.obs_dims[i]}},
                   {"key", source_of(keymap, s.obs_keys[i])}});
  for (const auto& c : s.cameras)
    cams.push_back({{"name", c}, {"dtype", "uint8"}, {"shape", {s.image_hw.at(0), s.image_hw.at(1), 3}},
                    {"key", source_of(keymap, c)}});
  for (const auto& [client, targets] : keymap.entries) km[client] = targets;
  return {{"protocol", kServeProtocol},
          {"model", model},
          {"task", s.task},
          {"policy", s.policy},
          {"action_dim", s.action_dim},
          {"horizon", s.horizon},
          {"n_action_steps", s.n_action_steps},
          {"history", s.history},
          {"stride", s.stride},
          {"control_hz", control_hz},
          {"observation", obs},
          {"cameras", cams},
          {"instruction", s.instruction},
          {"instruction_key", s.instruction ? source_of(keymap, kInstruction) == kInstruction ? std::string("prompt")
                                                                                                : source_of(keymap, kInstruction)
                                            : std::string()},
          {"has_log_prob", has_log_prob},
          {"inference", s.inference},
          {"keymap", km}};
}

Request decode_request(const msgpack::object& frame, const AgentSpec& spec, const KeyMap& keymap) {
  if (frame.type != msgpack::type::MAP)
    throw ProtocolError("a request must be a msgpack map of observations (openpi's msgpack-numpy encoding)");
  Request r;
  if (const auto* reset = find_key(frame, "reset")) {
    if (reset->type != msgpack::type::BOOLEAN || !reset->via.boolean)
      throw ProtocolError("'reset' must be true (a reset message starts a new episode)");
    r.kind = Request::Kind::kReset;
    if (const auto* seed = find_key(frame, "seed")) {
      if (seed->type != msgpack::type::POSITIVE_INTEGER) throw ProtocolError("'seed' must be a non-negative integer");
      r.seed = seed->via.u64;
    }
    return r;
  }
  if (const auto* mode = find_key(frame, "mode")) {
    const std::string m = to_string(*mode, "'mode'");
    if (m != "step" && m != "chunk") throw ProtocolError("'mode' must be \"step\" or \"chunk\", got " + nfp::quoted(m.substr(0, 32)));
    r.kind = m == "step" ? Request::Kind::kStep : Request::Kind::kChunk;
  }
  auto lookup = [&](const std::string& client, const std::string& what) -> const msgpack::object& {
    const auto* v = find_key(frame, client);
    if (!v)
      throw ProtocolError("the request lacks " + what + " " + nfp::quoted(client) +
                          " (send it under that key, or map a client key to it with --keymap)");
    return *v;
  };
  // low-dim keys, several of them possibly concatenated under one client key
  std::map<std::string, std::vector<float>> sources;
  for (const auto& key : spec.obs_keys) {
    const std::string client = source_of(keymap, key);
    if (!sources.count(client)) {
      auto v = to_floats(lookup(client, "observation"), "observation " + nfp::quoted(client));
      for (float x : v)
        if (!std::isfinite(x)) throw ProtocolError("observation " + nfp::quoted(client) + " contains NaN or Inf");
      sources[client] = std::move(v);
    }
  }
  for (auto& [client, values] : sources) {
    auto it = keymap.entries.find(client);
    const std::vector<std::string> targets = it != keymap.entries.end() ? it->second : std::vector<std::string>{client};
    int64_t total = 0;
    for (const auto& t : targets) total += width_of(spec, t);
    if (int64_t(values.size()) != total)
      throw ProtocolError("observation " + nfp::quoted(client) + " has " + std::to_string(values.size()) +
                          " values, expected " + std::to_string(total));
    size_t at = 0;
    for (const auto& t : targets) {
      const auto w = size_t(width_of(spec, t));
      r.obs.lowdim[t].assign(values.begin() + long(at), values.begin() + long(at + w));
      at += w;
    }
  }
  for (const auto& cam : spec.cameras) {
    const std::string client = source_of(keymap, cam);
    r.obs.images[cam] = decode_image(lookup(client, "camera image"), client);
  }
  if (spec.instruction) {
    std::string client = source_of(keymap, kInstruction);
    if (client == kInstruction && !find_key(frame, client) && find_key(frame, "prompt")) client = "prompt";
    r.obs.instruction = to_string(lookup(client, "the instruction"), "the instruction " + nfp::quoted(client));
  }
  return r;
}

std::string encode_actions_reply(const float* actions, int64_t rows, int64_t action_dim, bool step,
                                 const ReplyInfo& info) {
  msgpack::sbuffer buf;
  MsgpackPacker pk(&buf);
  json server{{"infer_ms", info.infer_ms}, {"queue_ms", info.queue_ms}, {"batch_size", info.batch_size}};
  if (info.prev_total_ms >= 0) server["prev_total_ms"] = info.prev_total_ms;
  pk.pack_map((step ? 6 : 5) + (info.monitor.is_null() ? 0 : 1));
  pk.pack(std::string("actions"));
  pack_ndarray(pk, actions, {rows, action_dim});
  pk.pack(std::string("log_prob"));
  std::isfinite(info.log_prob) ? pk.pack(info.log_prob) : pk.pack_nil();
  pk.pack(std::string("strategy"));
  pk.pack(info.strategy);
  pk.pack(std::string("server_timing"));
  pack_json(pk, server);
  pk.pack(std::string("policy_timing"));
  pack_json(pk, json{{"infer_ms", info.infer_ms}});
  if (step) {
    pk.pack(std::string("planned"));
    info.planned ? pk.pack_true() : pk.pack_false();
  }
  if (!info.monitor.is_null()) {
    pk.pack(std::string("monitor"));
    pack_json(pk, info.monitor);
  }
  return std::string(buf.data(), buf.size());
}

std::string encode_reset_reply(uint64_t seed) { return encode_json_frame({{"reset", true}, {"seed", seed}}); }

std::string encode_json_frame(const json& value) {
  msgpack::sbuffer buf;
  MsgpackPacker pk(&buf);
  pack_json(pk, value);
  return std::string(buf.data(), buf.size());
}

}  // namespace nfp
