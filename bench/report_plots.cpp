// Charts of the benchmark reports (see bench/bench_plots.hpp).
#include "bench_plots.hpp"
#include "nfp/svg_chart.hpp"
#include "nfp/atomic_file.hpp"
#include "nfp/error.hpp"

namespace nfp::bench {

std::filesystem::path write_latency_plot(const nlohmann::json& latency, const std::filesystem::path& dir) {
  BarChart c;
  c.title = "Chunk latency at batch 1, p50 (" + latency.value("task", std::string()) + " shapes, " +
            std::to_string(latency.value("threads", 1)) + " thread)";
  c.y_label = "milliseconds (log scale)";
  c.log_y = true;
  for (const auto& h : latency.at("heads")) c.bars.push_back({h.at("name").get<std::string>(), h.at("p50_ms").get<double>()});
  std::filesystem::create_directories(dir);
  const auto path = dir / "head_latency.svg";
  write_file_atomic(path, svg_bar_chart(c));
  return path;
}

}  // namespace nfp::bench
