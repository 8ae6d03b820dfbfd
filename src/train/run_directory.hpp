// The run directory's files beside its checkpoints: the metrics log a resumed run continues, and the check that a
// new run's --out holds nobody else's data.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>

namespace nfp {

// Keeps the rows of an existing metrics.csv up to `step` (a resumed run rewrites the rest); "" when there is none.
// A row whose first cell is not a step number (a damaged file) is an nfp::Error naming the file and line.
std::string metrics_up_to(const std::filesystem::path& path, int64_t step);

// A new run writes train_config.json, metrics.csv and checkpoint(s) into `out`: an existing directory must be
// empty or a run of nfp's that never reached a checkpoint (started over); anything else is an nfp::Error.
void check_new_run_dir(const std::filesystem::path& out);

}  // namespace nfp
