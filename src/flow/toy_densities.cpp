// The toy densities, defined here with their exact densities (not the usual sample-only recipes, whose
// densities have no closed form):
//   8-gaussians: equal mixture of N(c_k, 0.2^2 I), c_k = 2 (cos k pi/4, sin k pi/4).
//   checkerboard: uniform on the 8 black unit squares of a 4x4 board on [-2, 2]^2 (entropy log 8).
//   rings: equal mixture of 4 circles of radius 0.5, 1, 1.5, 2 blurred by N(0, 0.08^2 I) (Bessel I0 form).
//   two-moons: two unit half-circles (upper at (0, 0), lower at (1, 0.5)) blurred by N(0, 0.1^2 I); density by
//   quadrature over the arc (2,000 nodes, error far below the 0.01-nat scale we report).
#include "nfp/toy_densities.hpp"

#include <cmath>
#include <random>

#include "nfp/error.hpp"

namespace nfp {
namespace {

constexpr double kPi = 3.14159265358979323846;

double log_sum_exp(const double* v, int n) {
  double m = -INFINITY;
  for (int i = 0; i < n; ++i) m = std::max(m, v[i]);
  if (!std::isfinite(m)) return m;
  double s = 0;
  for (int i = 0; i < n; ++i) s += std::exp(v[i] - m);
  return m + std::log(s);
}

// ---- 8 gaussians
constexpr double kGaussStd = 0.2, kGaussRadius = 2.0;
std::vector<double> gaussians_sample(int64_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal;
  std::uniform_int_distribution<int> pick(0, 7);
  std::vector<double> out(size_t(2 * n));
  for (int64_t i = 0; i < n; ++i) {
    const double a = pick(rng) * kPi / 4;
    out[2 * i] = kGaussRadius * std::cos(a) + kGaussStd * normal(rng);
    out[2 * i + 1] = kGaussRadius * std::sin(a) + kGaussStd * normal(rng);
  }
  return out;
}
double gaussians_log_prob(double x, double y) {
  double v[8];
  for (int k = 0; k < 8; ++k) {
    const double dx = x - kGaussRadius * std::cos(k * kPi / 4), dy = y - kGaussRadius * std::sin(k * kPi / 4);
    v[k] = -(dx * dx + dy * dy) / (2 * kGaussStd * kGaussStd) - std::log(2 * kPi * kGaussStd * kGaussStd) - std::log(8.0);
  }
  return log_sum_exp(v, 8);
}

// ---- checkerboard
bool black(double x, double y) {
  if (x < -2 || x >= 2 || y < -2 || y >= 2) return false;
  return (int(std::floor(x + 2)) + int(std::floor(y + 2))) % 2 == 0;
}
std::vector<double> checkerboard_sample(int64_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::uniform_int_distribution<int> pick(0, 7);
  std::vector<double> out(size_t(2 * n));
  for (int64_t i = 0; i < n; ++i) {
    const int k = pick(rng), row = k / 2, col = 2 * (k % 2) + (row % 2);  // the black squares of each row
    out[2 * i] = -2 + col + u(rng);
    out[2 * i + 1] = -2 + row + u(rng);
  }
  return out;
}
double checkerboard_log_prob(double x, double y) { return black(x, y) ? -std::log(8.0) : -INFINITY; }

// ---- rings
constexpr double kRingStd = 0.08;
constexpr double kRadii[4] = {0.5, 1.0, 1.5, 2.0};
std::vector<double> rings_sample(int64_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal;
  std::uniform_real_distribution<double> angle(0, 2 * kPi);
  std::uniform_int_distribution<int> pick(0, 3);
  std::vector<double> out(size_t(2 * n));
  for (int64_t i = 0; i < n; ++i) {
    const double r = kRadii[pick(rng)], a = angle(rng);
    out[2 * i] = r * std::cos(a) + kRingStd * normal(rng);
    out[2 * i + 1] = r * std::sin(a) + kRingStd * normal(rng);
  }
  return out;
}
// log of I0(z) e^-z, stable for large z.
double log_scaled_i0(double z) {
  if (z < 500) return std::log(std::cyl_bessel_i(0.0, z)) - z;
  return -0.5 * std::log(2 * kPi * z) + std::log1p(1.0 / (8 * z));
}
double rings_log_prob(double x, double y) {
  // A circle of radius r blurred by N(0, s^2 I): p(q) = exp(-(|q| - r)^2 / 2s^2) I0(|q| r / s^2) e^{-|q| r / s^2} / (2 pi s^2)
  const double q = std::hypot(x, y), s2 = kRingStd * kRingStd;
  double v[4];
  for (int k = 0; k < 4; ++k) {
    const double r = kRadii[k];
    v[k] = -(q - r) * (q - r) / (2 * s2) + log_scaled_i0(q * r / s2) - std::log(2 * kPi * s2) - std::log(4.0);
  }
  return log_sum_exp(v, 4);
}

// ---- two moons
constexpr double kMoonStd = 0.1;
constexpr int kMoonNodes = 2000;
void moon_point(int moon, double t, double& px, double& py) {  // t in [0, pi]
  if (moon == 0) {
    px = std::cos(t);
    py = std::sin(t);
  } else {
    px = 1 - std::cos(t);
    py = 0.5 - std::sin(t);
  }
}
std::vector<double> moons_sample(int64_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal;
  std::uniform_real_distribution<double> t(0, kPi);
  std::uniform_int_distribution<int> pick(0, 1);
  std::vector<double> out(size_t(2 * n));
  for (int64_t i = 0; i < n; ++i) {
    double px, py;
    moon_point(pick(rng), t(rng), px, py);
    out[2 * i] = px + kMoonStd * normal(rng);
    out[2 * i + 1] = py + kMoonStd * normal(rng);
  }
  return out;
}
double moons_log_prob(double x, double y) {
  // p(q) = 1/2 sum_moons (1/pi) int_0^pi N(q; m(t), s^2 I) dt, midpoint rule in log space.
  static thread_local std::vector<double> v(2 * kMoonNodes);
  const double s2 = kMoonStd * kMoonStd, dt = kPi / kMoonNodes;
  for (int moon = 0; moon < 2; ++moon) {
    for (int i = 0; i < kMoonNodes; ++i) {
      double px, py;
      moon_point(moon, (i + 0.5) * dt, px, py);
      v[size_t(moon * kMoonNodes + i)] = -((x - px) * (x - px) + (y - py) * (y - py)) / (2 * s2);
    }
  }
  return log_sum_exp(v.data(), 2 * kMoonNodes) - std::log(2 * kPi * s2) + std::log(dt / kPi) - std::log(2.0);
}

const std::vector<ToyDensity>& all() {
  static const std::vector<ToyDensity> d = {
      {"two-moons", moons_sample, moons_log_prob, NAN},
      {"8-gaussians", gaussians_sample, gaussians_log_prob, NAN},
      {"checkerboard", checkerboard_sample, checkerboard_log_prob, std::log(8.0)},
      {"rings", rings_sample, rings_log_prob, NAN},
  };
  return d;
}

}  // namespace

std::vector<std::string> toy_density_names() {
  std::vector<std::string> n;
  for (const auto& d : all()) n.push_back(d.name);
  return n;
}

const ToyDensity& toy_density(const std::string& name) {
  for (const auto& d : all())
    if (d.name == name) return d;
  throw Error("unknown toy density " + quoted_value(name) + "; known: two-moons, 8-gaussians, checkerboard, rings");
}

double toy_entropy(const ToyDensity& d, int64_t n, uint64_t seed) {
  if (std::isfinite(d.exact_entropy)) return d.exact_entropy;
  const auto x = d.sample(n, seed);
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s -= d.log_prob(x[size_t(2 * i)], x[size_t(2 * i + 1)]);
  return s / double(n);
}

}  // namespace nfp
