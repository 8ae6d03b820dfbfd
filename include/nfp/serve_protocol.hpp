// The policy server's messages (openpi-compatible; nfp/msgpack_numpy.hpp encodes the arrays):
//   server -> client, on connect:  metadata map (server_metadata)
//   client -> server:  {<observation keys>: arrays, "prompt": str}           -> chunk reply: actions (H x A), ...
//                      {<observation keys>, "mode": "step"}                   -> step reply:  actions (1 x A), ...
//                      {"reset": true[, "seed": S]}                           -> {"reset": true, "seed": S}
// A chunk request (what openpi's client sends) plans a whole chunk from the observation, which joins the
// connection's history; the client executes the chunk's first n_action_steps actions (openpi's action-chunk
// broker), which the next plan takes as the previous action. A step request is PolicyRunner::act on the server:
// the action for this control step, planning only when the chunk queue is empty — send every control step's
// observation this way and the episode equals an in-process one with the same seed (nfp eval --server does).
// "reset", "seed" and "mode" are reserved and cannot be observation keys.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "nfp/agent_spec.hpp"
#include "nfp/json_io.hpp"
#include "nfp/msgpack_numpy.hpp"
#include "nfp/observation.hpp"

namespace nfp {

inline constexpr const char* kServeProtocol = "nfp-openpi/1";

// Client key -> what it holds: one low-dim observation key, several (a concatenated state split by the keys'
// widths, in order), a camera key ("<camera>_image"), or "instruction". Keys the map does not name are looked up
// under their own names; the instruction also under "prompt" (openpi) and "instruction". A LIBERO-style client:
//   {"observation/image": "agentview_image", "observation/state": ["eef_pos", "eef_quat", "gripper_qpos"],
//    "prompt": "instruction"}
struct KeyMap {
  std::map<std::string, std::vector<std::string>> entries;
};
// Reads a JSON key map (values: a string or a list of strings) and checks every target against `spec`; throws
// nfp::Error naming the file and key.
KeyMap read_keymap(const std::string& path, const AgentSpec& spec);
KeyMap keymap_from_json(const json& j, const AgentSpec& spec, const std::string& where);

// What a client needs to know, sent first on every connection (openpi's server sends its metadata dict there):
//   {protocol, model, task, policy, action_dim, horizon, n_action_steps, history, stride, control_hz,
//    observation: [{name, dtype "float32", shape [d], key (the client key carrying it)}, ...] (policy order),
//    cameras: [{name, dtype "uint8", shape [H, W, 3], key}, ...], instruction (bool), instruction_key,
//    has_log_prob, inference {strategy, sigma, ...}, keymap}
json server_metadata(const AgentSpec& spec, const KeyMap& keymap, const std::string& model, double control_hz,
                     bool has_log_prob);

struct Request {
  enum class Kind { kReset, kChunk, kStep };
  Kind kind = Kind::kChunk;
  uint64_t seed = 0;  // kReset
  Observation obs;    // kChunk, kStep
};
// Decodes one frame's map. Throws ProtocolError (what was wrong, what to send) on a missing key, a wrong dtype,
// shape or width, a non-finite value, or a malformed frame.
Request decode_request(const msgpack::object& frame, const AgentSpec& spec, const KeyMap& keymap);

// One reply's fields beyond the actions.
struct ReplyInfo {
  double log_prob = NAN;  // of the planned chunk (nil when none or the head has no likelihood)
  bool planned = true;    // step replies: whether this step planned a chunk
  std::string strategy;
  double infer_ms = 0;    // the batched pass that planned it
  double queue_ms = 0;    // from the frame's arrival to the start of that pass
  int64_t batch_size = 0; // chunks planned in that pass
  double prev_total_ms = -1;  // the connection's previous request, arrival to reply sent (openpi's prev_total_ms)
  // The likelihood monitor's verdict on the planned chunk (nfp serve --monitor; docs/MONITOR.md): {"score": its
  // standardized score, "alarm": above the threshold, "chunk": its index in the episode, "episode_alarm": any alarm
  // since the last reset}; null when the server runs no monitor or this step planned nothing.
  json monitor;
};
// actions: (rows x A) floats in data units (rows = H for a chunk, 1 for a step).
std::string encode_actions_reply(const float* actions, int64_t rows, int64_t action_dim, bool step,
                                 const ReplyInfo& info);
std::string encode_reset_reply(uint64_t seed);
std::string encode_json_frame(const json& value);  // the metadata

}  // namespace nfp
