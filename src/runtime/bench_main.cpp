// nfp_runtime_bench: `nfp bench runtime --json` without building the whole nfp command (prints the JSON).
#include <cstdio>
#include <cstring>

#include "nfp/bench_runtime.hpp"

int main(int argc, char** argv) {
  nfp::bench::RuntimeSpeedOptions o;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--checkpoint")) o.checkpoint = argv[i + 1];
    else if (!std::strcmp(argv[i], "--rounds")) o.rounds = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--calls")) o.jitter_calls = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--weights")) {  // comma-separated, as `nfp bench runtime --weights`
      o.weights.clear();
      for (const char *s = argv[i + 1], *e; *s; s = *e ? e + 1 : e) {
        e = std::strchr(s, ',');
        if (!e) e = s + std::strlen(s);
        o.weights.emplace_back(s, e);
      }
    }
  }
  std::printf("%s\n", nfp::bench::runtime_speed(o).dump().c_str());
  return 0;
}
