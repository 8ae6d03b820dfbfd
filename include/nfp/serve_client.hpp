// A client of `nfp serve` (or of any server speaking its protocol, nfp/serve_protocol.hpp): the metadata, chunk
// requests as openpi's client sends them, and step requests, with which it is an Agent the evaluator can roll out
// (`nfp eval --server ws://HOST:PORT`): each control step's observation goes to the server's runner for this
// connection, so an episode equals the in-process one with the same seed.
//   nfp::RemotePolicy remote("ws://127.0.0.1:8000");
//   remote.reset(seed);   nfp::ActStep step = remote.act(obs);
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "nfp/agent.hpp"
#include "nfp/json_io.hpp"

namespace nfp {

struct RemoteChunk {
  std::vector<float> actions;  // (rows x A) data units
  int64_t rows = 0, action_dim = 0;
  double log_prob = NAN;
  bool planned = true;         // step replies
  json server_timing;          // the server's {infer_ms, queue_ms, batch_size, ...}
  double round_trip_ms = 0;    // request sent to reply received, here
};

class RemotePolicy : public Agent {
 public:
  // Connects and reads the metadata; throws nfp::Error with the server's answer (refused, 401, 503, not a policy
  // server, no metadata within timeout_s).
  explicit RemotePolicy(const std::string& url, const std::string& api_key = "", double timeout_s = 30);
  ~RemotePolicy() override;

  const json& metadata() const { return metadata_; }
  const AgentSpec& spec() const { return spec_; }

  void reset(uint64_t seed) override;             // {"reset": true, "seed": seed}
  ActStep act(const Observation& obs) override;   // a step request
  RemoteChunk infer(const Observation& obs);      // a chunk request (what openpi's client does)
  // Sends raw bytes (binary) and returns the reply's bytes; throws nfp::Error with the server's error text or the
  // close code and reason. For tests of hostile frames.
  std::string request(const std::string& frame, bool text = false);

 private:
  std::string encode(const Observation& obs, const char* mode) const;
  RemoteChunk decode(const std::string& reply, double round_trip_ms) const;

  struct Impl;
  std::unique_ptr<Impl> impl_;
  json metadata_;
  AgentSpec spec_;
};

// The AgentSpec a server's metadata describes; throws nfp::Error if it lacks a field.
AgentSpec spec_from_metadata(const json& metadata);

}  // namespace nfp
