#include "nfp/free_port.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "nfp/error.hpp"

namespace nfp {

int free_tcp_port(const std::string& addr) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  require(::inet_pton(AF_INET, addr.c_str(), &a.sin_addr) == 1, quoted(addr) + " is not an IPv4 address");
  const int s = ::socket(AF_INET, SOCK_STREAM, 0);
  socklen_t len = sizeof a;
  const bool ok = s >= 0 && ::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
                  ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len) == 0;
  const int err = errno;
  if (s >= 0) ::close(s);
  require(ok, "no free TCP port on " + addr + " (" + std::strerror(err) + ")");
  return ntohs(a.sin_port);
}

}  // namespace nfp
