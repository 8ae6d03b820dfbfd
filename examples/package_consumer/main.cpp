// The smallest program against an INSTALLED nfp runtime: loads an .nfpr and samples one chunk, or reports
// why it cannot. Built by tests/runtime/package_test.cmake to check that find_package(nfp_runtime) works.
#include <cstdio>
#include <vector>

#include "nfp/runtime.hpp"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s model.nfpr\n", argv[0]);
    return 2;
  }
  try {
    nfp::runtime::Model model(argv[1]);
    nfp::runtime::Workspace ws(model, 1);
    std::vector<float> obs(size_t(model.info().obs_dim), 0.0f), chunk(size_t(model.info().dim));
    double lp = 0;
    const nfp_rt_status s = ws.sample(obs, model.info().sigma, 1, chunk, &lp);
    std::printf("%s: %s, chunk %dx%d, log p %.3f\n", argv[1], nfp_rt_status_string(s), model.info().horizon,
                model.info().action_dim, lp);
    return s == NFP_RT_OK ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
