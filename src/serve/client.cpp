// A synchronous client of the policy server over a blocking WebSocket connection (serve/ws_transport.hpp).
#include <chrono>

#include "nfp/msgpack_numpy.hpp"
#include "nfp/serve_client.hpp"
#include "serve/ws_transport.hpp"

namespace nfp {

using Clock = std::chrono::steady_clock;

struct RemotePolicy::Impl {
  explicit Impl(const std::string& url, const std::string& auth, double timeout_s) : connection(url, auth, timeout_s) {}
  ws::Connection connection;
};

RemotePolicy::RemotePolicy(const std::string& url, const std::string& api_key, double timeout_s)
    : impl_(std::make_unique<Impl>(url, api_key.empty() ? "" : "Api-Key " + api_key, timeout_s)) {
  auto [text, first] = impl_->connection.next();  // the metadata
  require(!text, "policy server: expected the metadata first, got the text " + nfp::quoted(first.substr(0, 200)));
  auto handle = unpack_frame(first.data(), first.size());
  metadata_ = msgpack_to_json(handle.get());
  spec_ = spec_from_metadata(metadata_);
}

RemotePolicy::~RemotePolicy() = default;

std::string RemotePolicy::request(const std::string& frame, bool text) {
  impl_->connection.send(frame, text);
  auto [is_text, reply] = impl_->connection.next();
  if (is_text) throw Error("policy server: " + reply);
  return reply;
}

std::string RemotePolicy::encode(const Observation& obs, const char* mode) const {
  // group the low-dim keys by the client key the server reads them from (a key map may concatenate several)
  std::vector<std::pair<std::string, std::vector<float>>> fields;
  for (const auto& o : metadata_.at("observation")) {
    const auto name = o.at("name").get<std::string>(), key = o.at("key").get<std::string>();
    auto it = obs.lowdim.find(name);
    require(it != obs.lowdim.end(), "policy server client: the observation lacks " + nfp::quoted(name));
    auto f = std::find_if(fields.begin(), fields.end(), [&](const auto& x) { return x.first == key; });
    if (f == fields.end()) fields.emplace_back(key, it->second);
    else f->second.insert(f->second.end(), it->second.begin(), it->second.end());
  }
  const bool instruction = spec_.instruction;
  msgpack::sbuffer buf;
  MsgpackPacker pk(&buf);
  pk.pack_map(uint32_t(fields.size() + metadata_.at("cameras").size() + (instruction ? 1 : 0) + (mode ? 1 : 0)));
  for (const auto& [key, values] : fields) {
    pk.pack(key);
    pack_ndarray(pk, values.data(), {int64_t(values.size())});
  }
  for (const auto& c : metadata_.at("cameras")) {
    const auto name = c.at("name").get<std::string>();
    auto it = obs.images.find(name);
    require(it != obs.images.end(), "policy server client: the observation lacks camera " + nfp::quoted(name));
    const Image& img = it->second;
    pk.pack(c.at("key").get<std::string>());
    pack_ndarray(pk, img.pixels.data(), img.pixels.size(), "|u1", {img.height, img.width, 3});
  }
  if (instruction) {
    pk.pack(metadata_.value("instruction_key", std::string("prompt")));
    pk.pack(obs.instruction);
  }
  if (mode) {
    pk.pack(std::string("mode"));
    pk.pack(std::string(mode));
  }
  return std::string(buf.data(), buf.size());
}

RemoteChunk RemotePolicy::decode(const std::string& reply, double round_trip_ms) const {
  auto handle = unpack_frame(reply.data(), reply.size());
  const auto& m = handle.get();
  RemoteChunk c;
  const auto* actions = find_key(m, "actions");
  require(actions != nullptr, "policy server: the reply has no 'actions'");
  auto a = as_ndarray(*actions);
  require(a && a->shape.size() == 2 && a->shape[1] == spec_.action_dim,
          "policy server: 'actions' must be a (rows x " + std::to_string(spec_.action_dim) + ") array");
  c.actions = to_floats(*a);
  c.rows = a->shape[0];
  c.action_dim = a->shape[1];
  if (const auto* lp = find_key(m, "log_prob"); lp && lp->type != msgpack::type::NIL) c.log_prob = to_floats(*lp, "log_prob").at(0);
  if (const auto* p = find_key(m, "planned")) c.planned = p->type == msgpack::type::BOOLEAN && p->via.boolean;
  if (const auto* t = find_key(m, "server_timing")) c.server_timing = msgpack_to_json(*t);
  c.round_trip_ms = round_trip_ms;
  return c;
}

void RemotePolicy::reset(uint64_t seed) {
  msgpack::sbuffer buf;
  MsgpackPacker pk(&buf);
  pack_json(pk, json{{"reset", true}, {"seed", seed}});
  request(std::string(buf.data(), buf.size()));
}

RemoteChunk RemotePolicy::infer(const Observation& obs) {
  const auto frame = encode(obs, nullptr);
  const auto t0 = Clock::now();
  const auto reply = request(frame);
  return decode(reply, std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
}

ActStep RemotePolicy::act(const Observation& obs) {
  const auto frame = encode(obs, "step");
  const auto t0 = Clock::now();
  const auto reply = request(frame);
  const RemoteChunk c = decode(reply, std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  require(c.rows == 1, "policy server: a step reply must hold one action");
  ActStep step;
  step.action = c.actions;
  if (c.planned) {
    Chunk chunk;  // what the evaluator reads of a planned chunk: its log p, and the latency as seen from here
    chunk.log_prob = c.log_prob;
    chunk.latency_s = c.round_trip_ms / 1e3;
    step.planned = chunk;
  }
  return step;
}

AgentSpec spec_from_metadata(const json& m) {
  try {
    AgentSpec s;
    s.task = m.value("task", std::string());
    s.policy = m.at("policy").get<std::string>();
    s.action_dim = m.at("action_dim").get<int64_t>();
    for (const auto& o : m.at("observation")) {
      s.obs_keys.push_back(o.at("name").get<std::string>());
      s.obs_dims.push_back(o.at("shape").at(0).get<int64_t>());
    }
    for (const auto& c : m.at("cameras")) {
      s.cameras.push_back(c.at("name").get<std::string>());
      s.image_hw = {c.at("shape").at(0).get<int64_t>(), c.at("shape").at(1).get<int64_t>()};
    }
    s.instruction = m.at("instruction").get<bool>();
    s.horizon = m.at("horizon").get<int64_t>();
    s.history = m.value("history", int64_t(1));
    s.stride = m.value("stride", int64_t(1));
    s.inference = m.value("inference", json::object());
    s.n_action_steps = m.at("n_action_steps").get<int64_t>();
    return s;
  } catch (const json::exception& e) {
    throw Error(std::string("policy server: the metadata is not nfp's (") + e.what() + "); is this an nfp server?");
  }
}

}  // namespace nfp
