// Fuzz target: one WebSocket frame as `nfp serve` receives it, through the bounded msgpack parser and the request
// decoder (against a policy with two low-dim keys, a camera and an instruction, and a LIBERO-style key map), and
// the metadata reader a client runs on the server's first frame. Allowed outcomes: a decoded request, or
// nfp::ProtocolError / nfp::Error; anything else (another exception, a crash, a sanitizer report) is a finding.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstdio>

#include "nfp/serve_protocol.hpp"

namespace {

const nfp::AgentSpec& spec() {
  static const nfp::AgentSpec s = [] {
    nfp::AgentSpec a;
    a.policy = "nfp-spline";
    a.action_dim = 2;
    a.obs_keys = {"eef", "gripper"};
    a.obs_dims = {3, 2};
    a.cameras = {"top_image"};
    a.image_hw = {4, 5};
    a.instruction = true;
    a.horizon = 8;
    return a;
  }();
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const nfp::KeyMap plain;
  static const nfp::KeyMap libero = nfp::keymap_from_json(
      {{"observation/state", {"eef", "gripper"}}, {"observation/image", "top_image"}}, spec(), "fuzz");
  const char* bytes = reinterpret_cast<const char*>(data);
  try {
    auto frame = nfp::unpack_frame(bytes, size);
    for (const auto* km : {&plain, &libero}) {
      try {
        nfp::decode_request(frame.get(), spec(), *km);
      } catch (const nfp::Error&) {
      }
    }
    nfp::msgpack_to_json(frame.get()).dump();  // what a client does with metadata (invalid UTF-8 throws json's error)
  } catch (const nfp::Error&) {
  } catch (const nlohmann::json::exception&) {  // dump() of a string that is not UTF-8: the client's message
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fuzz_serve_request: unexpected exception: %s\n", e.what());
    std::abort();
  }
  return 0;
}
