// A TCP port that no one listens on right now, for a rendezvous the caller starts moments later (`nfp train
// --nproc` picks rank 0's store port this way; tests pick theirs). The kernel's choice on the address; taken
// between this call and the bind by whoever asked, which is fine for one machine's own processes.
#pragma once
#include <string>

namespace nfp {

// A free port on the IPv4 address `addr`; nfp::Error when `addr` is not an IPv4 address or no port can be had.
int free_tcp_port(const std::string& addr = "127.0.0.1");

}  // namespace nfp
