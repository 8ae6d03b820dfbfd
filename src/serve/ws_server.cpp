// The WebSocket server (websocketpp over standalone asio, one I/O thread; C++17, see ws_transport.hpp). The
// Handler plans elsewhere, so this thread keeps answering pings, health checks and new connections while a batch
// runs; replies come back to it through asio::post.
#include <websocketpp/config/asio_no_tls.hpp>
#include <websocketpp/server.hpp>

#include <atomic>
#include <chrono>
#include <csignal>
#include <iostream>
#include <map>
#include <thread>

#include "nfp/error.hpp"
#include "serve/ws_transport.hpp"

namespace nfp::ws {

namespace {

using WsServer = websocketpp::server<websocketpp::config::asio>;
using Hdl = websocketpp::connection_hdl;
namespace close_code = websocketpp::close::status;

struct Client {
  uint64_t id = 0;
  std::string peer;
  WsServer::timer_ptr idle;
};

}  // namespace

struct Server::Impl {
  Impl(Handler& h, ServeOptions o) : handler(h), options(std::move(o)) {}

  Handler& handler;
  ServeOptions options;
  WsServer ws;
  std::map<Hdl, Client, std::owner_less<Hdl>> clients;  // I/O thread only
  std::atomic<size_t> open{0};
  bool stopping = false;  // I/O thread only
  std::unique_ptr<asio::signal_set> signals;
  int port = 0;

  void log(const std::string& line) const {
    if (options.log) std::cerr << "nfp serve: " << line << std::endl;
  }

  void arm_idle_timer(Hdl hdl) {
    auto it = clients.find(hdl);
    if (options.idle_timeout_s <= 0 || it == clients.end()) return;
    if (it->second.idle) it->second.idle->cancel();
    it->second.idle = ws.set_timer(long(options.idle_timeout_s * 1000.0), [this, hdl](const websocketpp::lib::error_code& ec) {
      if (ec) return;  // cancelled: the client spoke
      websocketpp::lib::error_code ignored;
      ws.close(hdl, close_code::normal, "idle for " + std::to_string(options.idle_timeout_s) + " s", ignored);
    });
  }

  // An error for one client: the message as a text frame, then close 1011 (openpi's server does the same).
  void fail(Hdl hdl, const std::string& message) {
    auto it = clients.find(hdl);
    log("client " + (it != clients.end() ? it->second.peer : std::string("?")) + ": error: " + message.substr(0, 300));
    websocketpp::lib::error_code ec;
    ws.send(hdl, message, websocketpp::frame::opcode::text, ec);
    ws.close(hdl, close_code::internal_endpoint_error, message.substr(0, 120), ec);  // a close reason is <= 123 bytes
  }

  bool validate(Hdl hdl) {
    auto con = ws.get_con_from_hdl(hdl);
    if (stopping) {
      con->set_status(websocketpp::http::status_code::service_unavailable);
      con->set_body("the server is shutting down\n");
      return false;
    }
    if (!options.api_key.empty() && con->get_request_header("Authorization") != "Api-Key " + options.api_key) {
      con->set_status(websocketpp::http::status_code::unauthorized);
      con->set_body("missing or wrong API key: send the header 'Authorization: Api-Key <key>'\n");
      log("refused a client without the right API key (401)");
      return false;
    }
    if (int64_t(clients.size()) >= options.max_clients) {
      con->set_status(websocketpp::http::status_code::service_unavailable);
      con->set_body("the server has " + std::to_string(options.max_clients) + " clients, its limit; retry later\n");
      log("refused a client over --max-clients " + std::to_string(options.max_clients) + " (503)");
      return false;
    }
    return true;
  }

  void on_http(Hdl hdl) {
    auto con = ws.get_con_from_hdl(hdl);
    if (con->get_resource() == "/healthz") {
      con->set_status(websocketpp::http::status_code::ok);
      con->set_body("OK\n");
    } else {
      con->set_status(websocketpp::http::status_code::upgrade_required);
      con->set_body("this is a WebSocket policy server (openpi protocol); GET /healthz for its health\n");
    }
  }

  void on_open(Hdl hdl) {
    auto con = ws.get_con_from_hdl(hdl);
    asio::error_code nodelay_ec;  // small frames, request / reply: no Nagle delay
    con->get_socket().set_option(asio::ip::tcp::no_delay(true), nodelay_ec);
    Handler::Opened opened = handler.open();
    Client c;
    c.id = opened.connection;
    c.peer = con->get_remote_endpoint();
    clients[hdl] = c;
    open = clients.size();
    log("client " + c.peer + " connected (" + std::to_string(clients.size()) + " open)");
    websocketpp::lib::error_code ec;
    ws.send(hdl, opened.first_frame, websocketpp::frame::opcode::binary, ec);
    arm_idle_timer(hdl);
  }

  void on_close(Hdl hdl) {
    auto it = clients.find(hdl);
    if (it == clients.end()) return;
    if (it->second.idle) it->second.idle->cancel();
    handler.close(it->second.id);
    auto con = ws.get_con_from_hdl(hdl);
    log("client " + it->second.peer + " disconnected (code " + std::to_string(con->get_remote_close_code()) + ")");
    clients.erase(it);
    open = clients.size();
  }

  void on_message(Hdl hdl, WsServer::message_ptr msg) {
    auto it = clients.find(hdl);
    if (it == clients.end()) return;
    if (stopping) {  // only requests received before the stop are answered
      websocketpp::lib::error_code ec;
      ws.close(hdl, close_code::going_away, "server shutting down", ec);
      return;
    }
    arm_idle_timer(hdl);
    if (msg->get_opcode() != websocketpp::frame::opcode::binary) {
      fail(hdl, "send binary frames holding one msgpack map (openpi's msgpack-numpy), not text");
      return;
    }
    handler.message(it->second.id, std::move(msg->get_raw_payload()), [this, hdl](bool error, std::string bytes) {
      asio::post(ws.get_io_service(), [this, hdl, error, bytes = std::move(bytes)] {
        if (clients.find(hdl) == clients.end()) return;  // the client left meanwhile
        if (error) return fail(hdl, bytes);
        websocketpp::lib::error_code ec;
        ws.send(hdl, bytes, websocketpp::frame::opcode::binary, ec);
        arm_idle_timer(hdl);
      });
    });
  }

  void begin_stop() {
    if (stopping) return;
    stopping = true;
    websocketpp::lib::error_code ec;
    ws.stop_listening(ec);
    if (signals) signals->cancel();
    log("stopping: answering " + std::to_string(handler.pending()) + " request(s) in flight, then closing " +
        std::to_string(clients.size()) + " client(s)");
    wait_for_replies();
  }

  void wait_for_replies() {
    if (handler.pending() > 0) {
      ws.set_timer(2, [this](const websocketpp::lib::error_code&) { wait_for_replies(); });
      return;
    }
    // Every reply has been posted; this handler is queued after them, so they go out before the close frames.
    asio::post(ws.get_io_service(), [this] {
      for (auto& [hdl, c] : clients) {
        if (c.idle) c.idle->cancel();
        websocketpp::lib::error_code ec;
        ws.close(hdl, close_code::going_away, "server shutting down", ec);
      }
    });
  }
};

Server::Server(Handler& handler, ServeOptions options) : impl_(std::make_unique<Impl>(handler, std::move(options))) {
  auto& d = *impl_;
  require(d.options.max_clients >= 1, "serve: --max-clients must be >= 1");
  require(d.options.max_message_bytes >= 1024, "serve: --max-message-bytes must be >= 1024");
  require(d.options.port >= 0 && d.options.port <= 65535, "serve: --port must be in 0..65535");
  d.ws.clear_access_channels(websocketpp::log::alevel::all);
  d.ws.clear_error_channels(websocketpp::log::elevel::all);
  d.ws.init_asio();
  d.ws.set_reuse_addr(true);
  d.ws.set_max_message_size(d.options.max_message_bytes);
  d.ws.set_max_http_body_size(64 * 1024);
  d.ws.set_close_handshake_timeout(1000);
  d.ws.set_validate_handler([&d](Hdl h) { return d.validate(h); });
  d.ws.set_http_handler([&d](Hdl h) { d.on_http(h); });
  d.ws.set_open_handler([&d](Hdl h) { d.on_open(h); });
  d.ws.set_close_handler([&d](Hdl h) { d.on_close(h); });
  d.ws.set_fail_handler([&d](Hdl h) { d.on_close(h); });
  d.ws.set_message_handler([&d](Hdl h, WsServer::message_ptr m) { d.on_message(h, std::move(m)); });
  asio::error_code aec;
  const auto address = asio::ip::make_address(d.options.host, aec);
  require(!aec, "serve: '" + d.options.host + "' is not an IP address (use 127.0.0.1, ::1 or 0.0.0.0)");
  websocketpp::lib::error_code ec;
  d.ws.listen(asio::ip::tcp::endpoint(address, uint16_t(d.options.port)), ec);
  require(!ec, "serve: cannot listen on " + d.options.host + ":" + std::to_string(d.options.port) + " (" + ec.message() +
                   "); pick another --port or stop what holds it");
  d.port = d.ws.get_local_endpoint(aec).port();
  d.ws.start_accept(ec);
  require(!ec, "serve: cannot accept connections (" + ec.message() + ")");
  if (d.options.handle_signals) {
    d.signals = std::make_unique<asio::signal_set>(d.ws.get_io_service(), SIGINT, SIGTERM);
    d.signals->async_wait([&d](const asio::error_code& e, int) {
      if (!e) d.begin_stop();
    });
  }
}

Server::~Server() {
  // Replies still owed would post to this server's I/O service: wait for them (their sends go nowhere).
  while (impl_->handler.pending() > 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

int Server::port() const { return impl_->port; }

size_t Server::clients() const { return impl_->open; }

void Server::run() { impl_->ws.run(); }

void Server::stop() {
  auto* d = impl_.get();
  asio::post(d->ws.get_io_service(), [d] { d->begin_stop(); });
}

}  // namespace nfp::ws
