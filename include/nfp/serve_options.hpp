// How `nfp serve` listens (nfp/serve.hpp). Torch-free and C++17: the WebSocket transport (src/serve/ws_server.cpp,
// built as C++17 for websocketpp) takes the same struct.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace nfp {

struct ServeOptions {
  std::string host = "127.0.0.1";  // loopback unless the user asks otherwise ("0.0.0.0", "::")
  int port = 8000;                 // 0: a free port, see PolicyServer::port()
  std::string api_key;             // empty: no authentication
  int64_t max_clients = 256;
  size_t max_message_bytes = 64u << 20;
  double idle_timeout_s = 600;     // a client silent this long is closed (1000); 0: never
  bool handle_signals = false;     // SIGINT / SIGTERM stop run() gracefully
  bool log = true;                 // one line per connection event on stderr
};

}  // namespace nfp
