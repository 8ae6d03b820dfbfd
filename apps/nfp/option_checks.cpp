// Checks shared by the subcommands: numeric flags within bounds (issue 23: `train --steps 0` silently ran the
// default 3,000 steps) and an existing output never replaced without --force (collect, density fit and export
// used to replace theirs silently).
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <sstream>

#include "command.hpp"
#include "nfp/error.hpp"

namespace nfp::cli {

namespace {

std::string shown(const std::string& v) { return quoted_value(v, 40); }

// The whole string is one number (strtoll / strtod stop at the first character they cannot read).
bool parse_whole(const std::string& v, long long& out) {
  if (v.empty()) return false;
  char* end = nullptr;
  errno = 0;
  out = std::strtoll(v.c_str(), &end, 10);
  return *end == '\0' && errno == 0;
}

bool parse_real(const std::string& v, double& out) {
  if (v.empty()) return false;
  char* end = nullptr;
  out = std::strtod(v.c_str(), &end);
  return *end == '\0' && std::isfinite(out);
}

// " and <= 1000" (nothing when the bound is only "finite").
std::string at_most(double hi) {
  if (hi >= 1e300) return "";
  std::ostringstream s;
  s << " and <= " << hi;
  return s.str();
}

}  // namespace

CLI::Validator whole(int64_t lo, int64_t hi) {
  const std::string range = "from " + std::to_string(lo) + " to " + std::to_string(hi);
  return CLI::Validator(
      [lo, hi, range](std::string& v) -> std::string {
        long long n = 0;
        if (!parse_whole(v, n) || n < lo || n > hi) return "must be a whole number " + range + ", got " + shown(v);
        return "";
      },
      "INT in [" + std::to_string(lo) + " - " + std::to_string(hi) + "]");
}

CLI::Validator seed_value() {
  return CLI::Validator(
      [](std::string& v) -> std::string {
        char* end = nullptr;
        errno = 0;
        const bool digits = !v.empty() && v[0] >= '0' && v[0] <= '9';
        if (digits) std::strtoull(v.c_str(), &end, 10);
        if (!digits || *end != '\0' || errno != 0)
          return "must be a whole number from 0 to 18446744073709551615, got " + shown(v);
        return "";
      },
      "UINT");
}

CLI::Validator positive_real(double hi) {
  return CLI::Validator(
      [hi](std::string& v) -> std::string {
        double x = 0;
        if (!parse_real(v, x) || !(x > 0) || x > hi) return "must be a finite number > 0" + at_most(hi) + ", got " + shown(v);
        return "";
      },
      "FLOAT > 0");
}

CLI::Validator non_negative_real(double hi) {
  return CLI::Validator(
      [hi](std::string& v) -> std::string {
        double x = 0;
        if (!parse_real(v, x) || !(x >= 0) || x > hi) return "must be a finite number >= 0" + at_most(hi) + ", got " + shown(v);
        return "";
      },
      "FLOAT >= 0");
}

CLI::Option* add_force_flag(CLI::App& cmd, bool& force) {
  return cmd.add_flag("--force", force, "replace an existing output (it is replaced only once the new one is complete)");
}

void refuse_existing_output(const std::filesystem::path& path, bool force, const std::string& flag) {
  std::error_code ec;
  if (force || !std::filesystem::exists(std::filesystem::symlink_status(path, ec))) return;
  // A CLI11 validation error: main prints it as one line and exits 2, like every usage error.
  throw CLI::ValidationError(flag, "'" + path.string() + "' already exists; pass --force to replace it, or choose another " +
                                       flag);
}

}  // namespace nfp::cli
