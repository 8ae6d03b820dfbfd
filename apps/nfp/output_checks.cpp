// Checks shared by the subcommands: an existing output is never replaced without --force (issue 23: collect,
// density fit and export used to replace theirs silently).
#include "command.hpp"

namespace nfp::cli {

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
