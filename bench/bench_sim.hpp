// Simulator speed benchmark (bench/sim_speed.cpp), run by `nfp bench sim` (and its alias `nfp tasks --bench`).
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace nfp::bench {

struct SimSpeedOptions {
  std::vector<std::string> tasks;  // empty: every task
  double seconds = 1.0;            // measuring time per figure
  int image_size = 96;
};

// Per task: control steps per CPU-second of the calling thread without rendering (expert actions
// replayed, so the expert's IK is not counted), rendered frames per wall-clock second of the top camera
// (Mesa's llvmpipe renders on its own threads), and control steps per wall-clock second with every camera.
// {"tasks": [{"task", "steps_per_s", "frames_per_s", "steps_per_s_with_images", "cameras", "control_hz",
// "substeps"}...], "image_size", "seconds"}
nlohmann::json sim_speed(const SimSpeedOptions& options);
// Prints the result of sim_speed() as a table on stdout.
void print_sim_speed(const nlohmann::json& result);

}  // namespace nfp::bench
