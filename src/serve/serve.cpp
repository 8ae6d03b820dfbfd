// PolicyServer: a PolicyService behind the WebSocket transport (serve/ws_transport.hpp).
#include "nfp/serve.hpp"

#include "serve/ws_transport.hpp"

namespace nfp {

namespace {

// Connections are sessions (a connection's id is its session's); frames are requests.
class ServiceHandler : public ws::Handler {
 public:
  explicit ServiceHandler(PolicyService& s) : service_(s) {}
  Opened open() override { return {service_.open(), service_.metadata_frame()}; }
  void message(uint64_t session, std::string frame, std::function<void(bool, std::string)> reply) override {
    service_.submit(session, std::move(frame), [reply = std::move(reply)](PolicyService::Reply r) { reply(r.error, std::move(r.bytes)); });
  }
  void close(uint64_t session) override { service_.close(session); }
  size_t pending() const override { return service_.pending(); }

 private:
  PolicyService& service_;
};

}  // namespace

struct PolicyServer::Impl {
  Impl(PolicyService& s, const ServeOptions& o) : handler(s), server(handler, o) {}
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
