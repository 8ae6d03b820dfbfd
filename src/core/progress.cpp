#include "nfp/progress.hpp"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <ctime>
#include <sstream>

namespace nfp {

using Clock = std::chrono::steady_clock;

std::string format_duration(double s) {
  char buf[32];
  if (!std::isfinite(s) || s < 0) return "?";
  if (s >= 3600) {
    std::snprintf(buf, sizeof buf, "%dh%02dm", int(s / 3600), int(std::fmod(s, 3600) / 60));
  } else if (s >= 60) {
    std::snprintf(buf, sizeof buf, "%dm%02ds", int(s / 60), int(std::fmod(s, 60)));
  } else {
    std::snprintf(buf, sizeof buf, "%.1fs", s);
  }
  return buf;
}

std::string utc_minute_now() {
  const std::time_t t = std::time(nullptr);
  char b[32];
  std::strftime(b, sizeof b, "%Y-%m-%d %H:%M UTC", std::gmtime(&t));
  return b;
}

Progress::Progress(std::string label, int64_t total, bool enabled)
    : label_(std::move(label)), total_(total), enabled_(enabled), tty_(::isatty(STDERR_FILENO) == 1),
      start_(Clock::now()), last_draw_(start_ - std::chrono::hours(1)) {}

Progress::~Progress() { finish(); }

double Progress::elapsed_s() const { return std::chrono::duration<double>(Clock::now() - start_).count(); }

double Progress::rate() const {
  const double t = elapsed_s();
  return t > 0 ? double(done_) / t : 0.0;
}

std::string Progress::render(int64_t done, const std::vector<std::pair<std::string, double>>& figures,
                             bool tty) const {
  std::ostringstream o;
  const double frac = total_ > 0 ? std::min(1.0, double(done) / double(total_)) : 0.0;
  o << label_ << " ";
  if (tty) {
    const int width = 24, filled = int(frac * width);
    o << "[" << std::string(filled, '#') << std::string(width - filled, '.') << "] ";
  }
  o << done << "/" << total_;
  char buf[64];
  for (const auto& [name, value] : figures) {
    std::snprintf(buf, sizeof buf, " %s %.4g", name.c_str(), value);
    o << buf;
  }
  const double r = rate();
  std::snprintf(buf, sizeof buf, " | %.1f it/s", r);
  o << buf;
  const double eta = r > 0 ? double(total_ - done) / r : NAN;
  o << " | " << format_duration(elapsed_s()) << " elapsed, ETA " << (done >= total_ ? "0s" : format_duration(eta));
  return o.str();
}

void Progress::update(int64_t done, const std::vector<std::pair<std::string, double>>& figures) {
  done_ = done;
  figures_ = figures;
  if (!enabled_) return;
  const auto now = Clock::now();
  // Terminal: redraw at most 10 times a second. Logs: a line every 10 seconds and at the end.
  const auto every = tty_ ? std::chrono::milliseconds(100) : std::chrono::milliseconds(10000);
  if (now - last_draw_ < every && done < total_) return;
  last_draw_ = now;
  if (tty_) {
    std::fprintf(stderr, "\r\033[K%s", render(done, figures, true).c_str());
  } else {
    std::fprintf(stderr, "%s\n", render(done, figures, false).c_str());
  }
  std::fflush(stderr);
}

void Progress::finish() {
  if (finished_) return;
  finished_ = true;
  if (!enabled_ || last_draw_ < start_) return;  // never drawn (nothing done: an error ends the work before it began)
  if (!tty_ && done_ >= total_) return;          // the final line is out already
  if (tty_) {
    std::fprintf(stderr, "\r\033[K%s\n", render(done_, figures_, true).c_str());
  } else {
    std::fprintf(stderr, "%s\n", render(done_, figures_, false).c_str());
  }
  std::fflush(stderr);
}

}  // namespace nfp
