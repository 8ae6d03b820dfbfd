// Runs the built `nfp` binary from a test (NFP_BIN, set by CTest) and reads its output.
#pragma once
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

namespace nfp::test {

struct NfpRun {
  int status = -1;  // exit code; -1 when the binary is missing
  std::string out;  // stdout and stderr, interleaved
};

// Runs `nfp <args>`; stderr is folded into the output.
inline NfpRun run_nfp(const std::string& args) {
  const char* bin = std::getenv("NFP_BIN");
  NfpRun r;
  if (!bin || !std::filesystem::exists(bin)) return r;
  FILE* p = ::popen((std::string(bin) + " " + args + " 2>&1").c_str(), "r");
  char buf[4096];
  while (size_t n = std::fread(buf, 1, sizeof(buf), p)) r.out.append(buf, n);
  const int st = ::pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
  return r;
}

inline bool nfp_available() { return run_nfp("--version").status == 0; }

// The --json contract: one object on the last line of stdout.
inline nlohmann::json last_line_json(const std::string& out) {
  std::string s = out;
  while (!s.empty() && s.back() == '\n') s.pop_back();
  return nlohmann::json::parse(s.substr(s.rfind('\n') + 1));
}

}  // namespace nfp::test
