// Two-dimensional test densities with exact (or quadrature-exact) log-densities, for `nfp density fit --toy`
// and for measuring how close a fitted flow gets to the true entropy.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace nfp {

struct ToyDensity {
  std::string name;
  // n samples, row-major (n x 2), drawn deterministically from `seed`.
  std::vector<double> (*sample)(int64_t n, uint64_t seed);
  // log p(x) for one point.
  double (*log_prob)(double x, double y);
  // Exact differential entropy in nats where known in closed form (NaN otherwise: use Monte Carlo).
  double exact_entropy;
};

// "two-moons", "8-gaussians", "checkerboard", "rings"; an unknown name throws nfp::Error listing them.
const ToyDensity& toy_density(const std::string& name);
std::vector<std::string> toy_density_names();

// Monte Carlo estimate of the entropy -E[log p] from n samples (or the exact value when known).
double toy_entropy(const ToyDensity& d, int64_t n = 200000, uint64_t seed = 12345);

}  // namespace nfp
