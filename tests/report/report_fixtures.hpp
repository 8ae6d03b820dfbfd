// Small on-disk runs, evaluations and benchmark directories for the report tests, written as `nfp train`,
// `nfp eval` and `nfp bench suite` write them (no training: the page only reads files).
#pragma once
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "nfp/json_io.hpp"

namespace nfp::test {

// How many times `what` occurs in `s` (overlapping ones too).
inline size_t count_of(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t i = s.find(what); i != std::string::npos; i = s.find(what, i + 1)) ++n;
  return n;
}

inline void write_text(const std::filesystem::path& p, const std::string& text) {
  std::filesystem::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << text;
}

// RUN/train_config.json, RUN/metrics.csv (`rows` rows), RUN/checkpoint/config.json.
inline void make_run(const std::filesystem::path& run, int rows = 4) {
  write_text(run / "train_config.json", R"({"steps": 100, "batch": 32, "lr": 0.0003, "task": "push-two-goals"})");
  write_text(run / "checkpoint" / "config.json", R"({"type": "nfp-spline", "horizon": 16, "n_action_steps": 8})");
  std::string m = "step,loss,lr,valid_loss,it_s,elapsed_s\n";
  for (int i = 1; i <= rows; ++i)
    m += std::to_string(i * 10) + "," + std::to_string(2.0 / i) + ",0.0003," + (i % 2 ? "nan" : std::to_string(2.5 / i)) + ",50,1\n";
  write_text(run / "metrics.csv", m);
}

// An eval_info.json of `checkpoint` with these outcomes; `videos` episodes have video_paths (files not written).
inline json make_eval(const std::string& checkpoint, const std::vector<bool>& success, size_t videos = 0,
                      const std::filesystem::path& video_dir = {}) {
  json eps = json::array();
  int ok = 0;
  for (size_t i = 0; i < success.size(); ++i) {
    eps.push_back({{"episode_ix", i}, {"seed", 100000 + i}, {"success", bool(success[i])}, {"sum_reward", 1.0},
                   {"max_reward", success[i] ? 1.0 : 0.2}, {"steps", 50}});
    ok += success[i];
  }
  json info = {{"per_episode", eps},
               {"aggregated",
                {{"pc_success", 100.0 * ok / double(success.size())}, {"avg_sum_reward", 1.0}, {"avg_max_reward", 0.6},
                 {"eval_s", 3.0}, {"eval_ep_s", 0.3}, {"chunk_latency_ms_p50", 1.25}, {"chunk_latency_ms_p99", 2.5}}},
               {"task", "push-two-goals"}, {"seed", 100000}, {"inference", {{"strategy", "sbs"}}},
               {"checkpoint", checkpoint}, {"parameters", 12345}};
  if (videos) {
    info["video_paths"] = json::array();
    for (size_t i = 0; i < videos; ++i) info["video_paths"].push_back((video_dir / ("episode_" + std::to_string(i) + ".mp4")).string());
  }
  return info;
}

}  // namespace nfp::test
