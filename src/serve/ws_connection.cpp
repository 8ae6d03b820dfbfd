// A blocking WebSocket client connection (websocketpp's client on a background I/O thread; C++17, see
// ws_transport.hpp): frames are handed over through a mailbox.
#include <websocketpp/client.hpp>
#include <websocketpp/config/asio_no_tls_client.hpp>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "nfp/error.hpp"
#include "serve/ws_transport.hpp"

namespace nfp::ws {

namespace {
using WsClient = websocketpp::client<websocketpp::config::asio_client>;
}  // namespace

struct Connection::Impl {
  WsClient ws;
  websocketpp::connection_hdl hdl;
  std::thread io;
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::pair<bool, std::string>> inbox;  // (text?, payload)
  bool opened = false, closed = false;
  std::string why_closed;
  double timeout_s = 30;
};

Connection::Connection(const std::string& url, const std::string& authorization, double timeout_s)
    : impl_(std::make_unique<Impl>()) {
  auto& d = *impl_;
  d.timeout_s = timeout_s;
  d.ws.clear_access_channels(websocketpp::log::alevel::all);
  d.ws.clear_error_channels(websocketpp::log::elevel::all);
  d.ws.init_asio();
  d.ws.set_max_message_size(size_t(1) << 31);  // openpi's client sets no limit
  d.ws.set_message_handler([&d](websocketpp::connection_hdl, WsClient::message_ptr m) {
    std::lock_guard<std::mutex> lock(d.mu);
    d.inbox.emplace_back(m->get_opcode() == websocketpp::frame::opcode::text, std::move(m->get_raw_payload()));
    d.cv.notify_all();
  });
  d.ws.set_open_handler([&d](websocketpp::connection_hdl h) {
    asio::error_code ignored;  // small frames, request / reply: no Nagle delay
    d.ws.get_con_from_hdl(h)->get_socket().set_option(asio::ip::tcp::no_delay(true), ignored);
    std::lock_guard<std::mutex> lock(d.mu);
    d.opened = true;
    d.cv.notify_all();
  });
  d.ws.set_close_handler([&d](websocketpp::connection_hdl h) {
    auto con = d.ws.get_con_from_hdl(h);
    std::lock_guard<std::mutex> lock(d.mu);
    d.closed = true;
    d.why_closed = "closed the connection (code " + std::to_string(con->get_remote_close_code()) +
                   (con->get_remote_close_reason().empty() ? "" : ": " + con->get_remote_close_reason()) + ")";
    d.cv.notify_all();
  });
  d.ws.set_fail_handler([&d, url](websocketpp::connection_hdl h) {
    auto con = d.ws.get_con_from_hdl(h);
    std::lock_guard<std::mutex> lock(d.mu);
    d.closed = true;
    const int status = int(con->get_response_code());
    std::string body = con->get_response().get_body();
    while (!body.empty() && (body.back() == '\n' || body.back() == '\r')) body.pop_back();
    d.why_closed = "cannot connect to " + url + " (" +
                   (status > 0 ? "HTTP " + std::to_string(status) + (body.empty() ? "" : ": " + body)
                               : con->get_ec().message()) + ")";
    d.cv.notify_all();
  });
  websocketpp::lib::error_code ec;
  auto con = d.ws.get_connection(url, ec);
  require(!ec, "policy server: '" + url + "' is not a WebSocket URL (ws://HOST:PORT)");
  if (!authorization.empty()) con->append_header("Authorization", authorization);
  d.hdl = con->get_handle();
  d.ws.connect(con);
  d.io = std::thread([&d] { d.ws.run(); });
  // connected means open: a send() right away must not meet a handshake still under way
  std::string why;
  {
    std::unique_lock<std::mutex> lock(d.mu);
    const bool done = d.cv.wait_for(lock, std::chrono::duration<double>(timeout_s), [&] { return d.opened || d.closed; });
    if (d.opened) return;
    why = done ? d.why_closed : "cannot connect to " + url + " within " + std::to_string(int(timeout_s)) + " s";
  }
  d.ws.stop();  // the constructor throws: no destructor will stop the I/O thread
  d.io.join();
  throw Error("policy server: " + why);
}

Connection::~Connection() {
  auto& d = *impl_;
  websocketpp::lib::error_code ec;
  d.ws.close(d.hdl, websocketpp::close::status::normal, "", ec);
  {
    std::unique_lock<std::mutex> lock(d.mu);
    d.cv.wait_for(lock, std::chrono::seconds(2), [&] { return d.closed; });
  }
  d.ws.stop();
  if (d.io.joinable()) d.io.join();
}

void Connection::send(const std::string& bytes, bool text) {
  auto& d = *impl_;
  {
    std::lock_guard<std::mutex> lock(d.mu);
    require(!d.closed, "policy server: " + d.why_closed);
  }
  websocketpp::lib::error_code ec;
  d.ws.send(d.hdl, bytes, text ? websocketpp::frame::opcode::text : websocketpp::frame::opcode::binary, ec);
  if (ec) {  // closing: report why, once the close handshake tells
    std::unique_lock<std::mutex> lock(d.mu);
    d.cv.wait_for(lock, std::chrono::seconds(2), [&] { return d.closed; });
    throw Error("policy server: " + (d.closed ? d.why_closed : "cannot send (" + ec.message() + ")"));
  }
}

std::pair<bool, std::string> Connection::next() {
  auto& d = *impl_;
  std::unique_lock<std::mutex> lock(d.mu);
  const bool got = d.cv.wait_for(lock, std::chrono::duration<double>(d.timeout_s), [&] { return !d.inbox.empty() || d.closed; });
  if (!d.inbox.empty()) {
    auto f = std::move(d.inbox.front());
    d.inbox.pop_front();
    return f;
  }
  throw Error(got ? "policy server: " + d.why_closed
                  : "policy server: no reply within " + std::to_string(int(d.timeout_s)) + " s");
}

}  // namespace nfp::ws
