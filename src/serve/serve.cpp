// PolicyServer: a PolicyService behind the WebSocket transport (serve/ws_transport.hpp).
#include "nfp/serve.hpp"

#include "serve/ws_transport.hpp"

namespace nfp {

namespace {

// Connections are sessions; frames are requests.
class ServiceHandler : public ws::Handler {
 public:
  explicit ServiceHandler(PolicyService& s) : service_(s) {}
  std::string open(uint64_t connection) override {
    std::lock_guard<std::mutex> lock(mu_);
    sessions_[connection] = service_.open();
    return service_.metadata_frame();
  }
  void message(uint64_t connection, std::string frame, std::function<void(bool, std::string)> reply) override {
    PolicyService::SessionId id = 0;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = sessions_.find(connection);
      if (it != sessions_.end()) id = it->second;
    }
    service_.submit(id, std::move(frame), [reply = std::move(reply)](PolicyService::Reply r) { reply(r.error, std::move(r.bytes)); });
  }
  void close(uint64_t connection) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = sessions_.find(connection);
    if (it == sessions_.end()) return;
    service_.close(it->second);
    sessions_.erase(it);
  }
  size_t pending() const override { return service_.pending(); }

 private:
  PolicyService& service_;
  std::mutex mu_;
  std::map<uint64_t, PolicyService::SessionId> sessions_;
};

ws::ServerOptions transport_options(const ServeOptions& o) {
  ws::ServerOptions t;
  t.host = o.host;
  t.port = o.port;
  t.api_key = o.api_key;
  t.max_clients = o.max_clients;
  t.max_message_bytes = o.max_message_bytes;
  t.idle_timeout_s = o.idle_timeout_s;
  t.handle_signals = o.handle_signals;
  t.log = o.log;
  return t;
}

}  // namespace

struct PolicyServer::Impl {
  Impl(PolicyService& s, const ServeOptions& o) : handler(s), server(handler, transport_options(o)) {}
  ServiceHandler handler;
  ws::Server server;  // destroyed first: it waits for the replies the handler still owes
};

PolicyServer::PolicyServer(PolicyService& service, ServeOptions options)
    : impl_(std::make_unique<Impl>(service, options)) {}
PolicyServer::~PolicyServer() = default;
int PolicyServer::port() const { return impl_->server.port(); }
void PolicyServer::run() { impl_->server.run(); }
void PolicyServer::stop() { impl_->server.stop(); }
size_t PolicyServer::clients() const { return impl_->server.clients(); }

}  // namespace nfp
