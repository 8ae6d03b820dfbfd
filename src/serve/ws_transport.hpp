// The WebSocket side of the policy server and client, behind plain std types. websocketpp 0.8 does not compile as
// C++20 (template-id constructors), so these two files build as C++17 in their own library (nfp_ws) and nothing
// else includes websocketpp. The server speaks openpi's transport rules (nfp/serve.hpp says which); what the
// frames mean is the Handler's business.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "nfp/serve_options.hpp"

namespace nfp::ws {

// Called on the server's I/O thread.
class Handler {
 public:
  virtual ~Handler() = default;
  // A connection was accepted: the id the other calls will name it by, and the first frame to send it (binary).
  struct Opened {
    uint64_t connection = 0;
    std::string first_frame;
  };
  virtual Opened open() = 0;
  // One binary frame; `reply(error, bytes)` must be called exactly once, from any thread. error: `bytes` is a
  // one-line message, sent as a text frame before closing the connection with 1011.
  virtual void message(uint64_t connection, std::string frame, std::function<void(bool, std::string)> reply) = 0;
  virtual void close(uint64_t connection) = 0;
  virtual size_t pending() const = 0;  // replies still owed; a stop waits for them
};

class Server {
 public:
  // Binds; throws nfp::Error (one line naming the address) if it cannot.
  Server(Handler& handler, ServeOptions options);
  ~Server();
  int port() const;
  void run();     // until stop(): stop listening, send every owed reply, close each client with 1001
  void stop();    // any thread
  size_t clients() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// A blocking client connection: connects, then send() and next() frames. Throws nfp::Error with the server's
// answer (HTTP status and body when the handshake is refused, close code and reason when it closes).
class Connection {
 public:
  Connection(const std::string& url, const std::string& authorization, double timeout_s);
  ~Connection();
  void send(const std::string& bytes, bool text);
  std::pair<bool, std::string> next();  // (text?, payload), waiting at most timeout_s

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace nfp::ws
