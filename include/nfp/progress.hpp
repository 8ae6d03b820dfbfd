// A progress report for long work: a redrawn bar on a terminal, plain lines otherwise (logs, CI).
// Written by hand because it is ~100 lines and no Debian package offers one that prints plain lines
// when stderr is not a terminal. Output goes to stderr so that stdout stays machine-readable (--json).
#pragma once
#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace nfp {

class Progress {
 public:
  // `total` units of work (steps, episodes); `label` names them ("train", "collect").
  Progress(std::string label, int64_t total, bool enabled = true);
  ~Progress();

  // Reports that `done` units are finished, with named figures shown beside the bar (loss, lr, ...).
  void update(int64_t done, const std::vector<std::pair<std::string, double>>& figures = {});
  // Ends the bar (prints a final line). Called by the destructor if not called before.
  void finish();

  // Rate in units per second since construction.
  double rate() const;
  double elapsed_s() const;

 private:
  std::string render(int64_t done, const std::vector<std::pair<std::string, double>>& figures, bool tty) const;

  std::string label_;
  int64_t total_;
  bool enabled_;
  bool tty_;
  bool finished_ = false;
  int64_t done_ = 0;
  std::vector<std::pair<std::string, double>> figures_;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

// Formats seconds as "1h02m", "3m05s" or "12.3s".
std::string format_duration(double seconds);
// The current time to the minute, "2026-12-02 07:08 UTC", for the header lines of reports.
std::string utc_minute_now();

}  // namespace nfp
