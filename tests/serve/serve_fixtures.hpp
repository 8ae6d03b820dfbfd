// Requests for the serve tests: observations of push-two-goals as a client would send them.
#pragma once
#include <string>

#include "eval/eval_fixtures.hpp"
#include "nfp/msgpack_numpy.hpp"
#include "nfp/observation.hpp"
#include "nfp/sim_env.hpp"

namespace nfp::test {

// A push-two-goals observation, different for each `k`.
inline Observation push_observation(int k) {
  Observation o;
  for (const auto& [key, d] : sim::task_spec("push-two-goals").obs_dims) {
    std::vector<float> v(static_cast<size_t>(d));
    for (int i = 0; i < d; ++i) v[size_t(i)] = 0.05f * float((k * 7 + i * 3) % 11) - 0.25f;
    o.lowdim[key] = v;
  }
  return o;
}

// The msgpack request for `obs` ("mode" added unless empty).
inline std::string encode_request(const Observation& obs, const std::string& mode = "") {
  msgpack::sbuffer buf;
  MsgpackPacker pk(&buf);
  pk.pack_map(uint32_t(obs.lowdim.size() + (mode.empty() ? 0 : 1)));
  for (const auto& [k, v] : obs.lowdim) {
    pk.pack(k);
    pack_ndarray(pk, v.data(), {int64_t(v.size())});
  }
  if (!mode.empty()) {
    pk.pack(std::string("mode"));
    pk.pack(mode);
  }
  return std::string(buf.data(), buf.size());
}

inline std::string encode_reset(uint64_t seed) {
  msgpack::sbuffer buf;
  MsgpackPacker pk(&buf);
  pack_json(pk, {{"reset", true}, {"seed", seed}});
  return std::string(buf.data(), buf.size());
}

// The actions array of a reply, and whether it is one.
inline std::vector<float> reply_actions(const std::string& reply, std::vector<int64_t>* shape = nullptr) {
  auto h = unpack_frame(reply.data(), reply.size());
  auto a = as_ndarray(*find_key(h.get(), "actions"));
  if (shape) *shape = a->shape;
  return to_floats(*a);
}

}  // namespace nfp::test
