/* The smallest C program against an INSTALLED nfp runtime: loads an .nfpr and samples one chunk, or reports why
 * it cannot. Built by tests/runtime/package_test.cmake twice: with CMake's find_package(nfp_runtime) from a C-only
 * project, and with pkg-config (cc main.c $(pkg-config --cflags --libs nfp_runtime)). */
#include <stdio.h>
#include <stdlib.h>

#include "nfp/runtime.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s model.nfpr\n", argv[0]);
    return 2;
  }
  char error[512];
  nfp_rt_model* model = nfp_rt_model_load(argv[1], error, sizeof error);
  if (!model) {
    fprintf(stderr, "error: %s\n", error);
    return 1;
  }
  nfp_rt_info info;
  nfp_rt_model_info(model, &info);
  nfp_rt_workspace* ws = nfp_rt_workspace_create(model, 1);
  float* obs = calloc((size_t)(info.obs_dim > 0 ? info.obs_dim : 1), sizeof(float));
  float* chunk = calloc((size_t)info.dim, sizeof(float));
  double log_prob = 0;
  const nfp_rt_status s = nfp_rt_sample(ws, obs, info.sigma, 1, 1, chunk, &log_prob);
  printf("%s: %s, chunk %dx%d, log p %.3f\n", argv[1], nfp_rt_status_string(s), info.horizon, info.action_dim,
         log_prob);
  free(chunk);
  free(obs);
  nfp_rt_workspace_free(ws);
  nfp_rt_model_free(model);
  return s == NFP_RT_OK ? 0 : 1;
}
