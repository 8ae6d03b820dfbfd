// The benchmark reports' charts, drawn from the JSON / rows the benchmarks produce (SVG via nfp/svg_chart.hpp).
// Each function creates `dir` if needed, writes one file atomically and returns its path.
#pragma once
#include <filesystem>
#include <nlohmann/json.hpp>

namespace nfp::bench {

// head_latency.svg: p50 per row of `nfp bench latency`, log scale.
std::filesystem::path write_latency_plot(const nlohmann::json& latency, const std::filesystem::path& dir);

}  // namespace nfp::bench
