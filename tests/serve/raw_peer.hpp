// A hand-rolled WebSocket peer on a plain socket, for what a well-behaved client library will not do: plain HTTP
// requests, frames that lie about their size, vanishing mid-request.
#pragma once
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <string>

namespace nfp::test {

class RawPeer {
 public:
  explicit RawPeer(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    timeval tv{5, 0};  // no test waits longer for a byte
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(uint16_t(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  }
  ~RawPeer() { close(); }
  bool connected() const { return connected_; }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  void send(const std::string& bytes) { (void)::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL); }
  // Everything until the peer closes or `until` appears (or 5 s pass).
  std::string read(const std::string& until = "") {
    std::string out;
    char buf[4096];
    for (;;) {
      if (!until.empty() && out.find(until) != std::string::npos) break;
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) break;
      out.append(buf, size_t(n));
    }
    return out;
  }
  std::string http_get(const std::string& path) {
    send("GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    return read();
  }
  // The opening handshake; returns the server's response head.
  std::string handshake() {
    send("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
    return read("\r\n\r\n");
  }
  // A binary frame (masked with a zero key, as a client must mask) whose header claims `claimed` payload bytes.
  void send_frame(const std::string& payload, uint64_t claimed) {
    std::string f = "\x82";
    if (claimed < 126) {
      f += char(0x80 | claimed);
    } else {
      f += char(0x80 | 127);
      for (int i = 7; i >= 0; --i) f += char((claimed >> (8 * i)) & 0xff);
    }
    f += std::string(4, '\0');
    send(f + payload);
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
};

}  // namespace nfp::test
