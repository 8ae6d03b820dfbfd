// HTML pieces shared by the report's page (report_page.cpp) and its run sections (report_run.cpp).
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "report_inputs.hpp"

namespace nfp::report {

std::string esc(const std::string& text);  // HTML text and attribute values
std::string fixed(double v, int decimals);  // "n/a" when not finite

// The files the page links to, written under OUT/assets/ as the page is built.
struct Assets {
  std::filesystem::path root;  // the staging directory (OUT while it is being written)
  int64_t videos = 0;
  // Writes `svg` as assets/<name>.svg; returns an <img> tag for it ("" for an empty svg).
  std::string chart(const std::string& name, const std::string& svg, const std::string& alt);
  // Copies `source` to assets/<name>; returns the relative path.
  std::string copy(const std::filesystem::path& source, const std::string& name);
};

// A success rate as the page shows it: k / n, percent and its 95% interval; trials 0 when not known.
struct Success {
  int64_t successes = 0, trials = 0;
  double pc = 0;
  double lo = 0, hi = 100;
};
Success success_of(const json& eval_info);
std::string success_html(const Success& s);  // "56.0% [42.3, 68.8] (28 / 50)"

// One run's section: config, curves, evaluations, videos, monitor, problems.
std::string run_section(const RunEntry& run, size_t index, Assets& assets, int64_t max_videos,
                        std::vector<std::string>& problems);

}  // namespace nfp::report
