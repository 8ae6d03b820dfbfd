// The run directory's helpers (train/run_directory.hpp), split from the training loop.
#include "train/run_directory.hpp"

#include <charconv>
#include <sstream>

#include "nfp/atomic_file.hpp"
#include "nfp/error.hpp"
#include "nfp/tensor_io.hpp"

namespace nfp {

namespace fs = std::filesystem;

// Keeps the rows of an existing metrics.csv up to `step` (a resumed run rewrites the rest).
// A row whose first cell is not a step number (a damaged file) is named, not reported as `stoll`.
std::string metrics_up_to(const fs::path& path, int64_t step) {
  std::string out;
  if (!fs::exists(path)) return out;
  std::istringstream in(read_file(path));
  int64_t line_no = 0;
  for (std::string line; std::getline(in, line);) {
    ++line_no;
    if (out.empty()) {  // the header
      out.append(line).push_back('\n');
      continue;
    }
    const std::string cell = line.substr(0, line.find(','));
    int64_t row_step = 0;
    const auto [end, ec] = std::from_chars(cell.data(), cell.data() + cell.size(), row_step);
    require(ec == std::errc() && end == cell.data() + cell.size(),
            std::string("'").append(path.string()) + "' line " + std::to_string(line_no) + ": " +
                quoted_value(cell, 40) + " is not a step number (the metrics log is damaged); fix or delete that line, then resume again "
                "(the checkpoint itself is intact)");
    if (row_step <= step) out.append(line).push_back('\n');
  }
  return out;
}

// A new run writes train_config.json, metrics.csv and checkpoint(s) into `out`: an existing directory must be
// empty or a run of nfp's that never reached a checkpoint (started over); anything else is someone's data, which
// a run would overwrite (a metrics.csv there was replaced).
void check_new_run_dir(const fs::path& out) {
  if (!fs::exists(out)) return;
  require(fs::is_directory(out), quoted(out.string()) + " exists and is not a directory; choose another --out");
  // What a run killed while writing its first files left: its dead process's temporaries (never a live writer's).
  for (const char* name : {"train_config.json", "metrics.csv", "checkpoint"}) remove_stale_temporaries(out / name);
  require(!fs::exists(out / "checkpoint"),
          out.string() + " already holds a run; pass --resume to continue it or pick another --out");
  if (fs::exists(out / "train_config.json")) return;
  require(fs::is_empty(out), quoted(out.string()) + " exists and is not an nfp run directory (no train_config.json), and "
                             "nfp train would write train_config.json, metrics.csv and checkpoint/ into it; choose a "
                             "new or empty --out");
}

}  // namespace nfp
