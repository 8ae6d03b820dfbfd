// `nfp serve`: a PolicyService (nfp/policy_service.hpp) behind openpi's WebSocket protocol, so an unmodified
// openpi client (openpi_client.websocket_client_policy) can drive an nfp policy:
//   - WebSocket on one port, any path, no compression; the metadata map first, then one msgpack reply per
//     binary msgpack request; `GET /healthz` answers 200 "OK".
//   - An error (malformed frame, missing key, wrong shape...) is a text frame with the message, then close 1011,
//     for that client only; a frame over max_message_bytes is closed with 1009.
//   - With an api_key, the handshake must carry `Authorization: Api-Key <key>` (what openpi's client sends),
//     or it is refused with HTTP 401; beyond max_clients, HTTP 503.
//   - run() serves until stop() or, with handle_signals, SIGINT / SIGTERM: it stops accepting, answers every
//     request already received, closes each client with 1001 and returns.
//   nfp::PolicyServer server(service, options);   server.run();
#pragma once
#include <memory>
#include <string>

#include "nfp/policy_service.hpp"
#include "nfp/serve_options.hpp"

namespace nfp {

class PolicyServer {
 public:
  // Binds (throws nfp::Error naming the address if it cannot). `service` must outlive the server.
  PolicyServer(PolicyService& service, ServeOptions options);
  ~PolicyServer();
  int port() const;          // the bound port
  void run();                // serves until stop(); see above
  void stop();               // from any thread (not from a signal handler: use handle_signals)
  size_t clients() const;    // connections open now

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace nfp
