// How a subcommand joins the `nfp` command: one file per subcommand defines a setup function that adds its
// CLI11 subcommand (options + callback), and registers it with NFP_COMMAND. main.cpp adds them in name order.
#pragma once
#include <CLI/CLI.hpp>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace nfp::cli {

using CommandSetup = std::function<void(CLI::App& root)>;

struct CommandRegistrar {
  CommandRegistrar(const std::string& name, CommandSetup setup);
};

// "a,b,,c" -> {"a", "b", "c"}: comma-separated flag values (empty items dropped).
std::vector<std::string> split_commas(const std::string& s);

// Prints `json_line` as the last line of stdout (the --json contract).
void print_json_line(const std::string& json_line);

// Numeric flag checks (option_checks.cpp), for `->check(...)`: a bad value is a usage error (exit 2), one line
// naming the flag and the accepted range, e.g. "nfp: error: --steps: must be a whole number from 1 to
// 1000000000, got '0' (see --help)". CLI11's PositiveNumber lets NaN and Inf through; these do not.
CLI::Validator whole(int64_t lo, int64_t hi);  // an integer in [lo, hi]
CLI::Validator seed_value();                   // a whole number >= 0 (uint64 seeds: at most 2^64 - 1)
CLI::Validator positive_real(double hi = 1e300);   // finite, in (0, hi]
CLI::Validator non_negative_real(double hi = 1e300);  // finite, in [0, hi]

// `--threads N` (N >= 1) with the help text and default every command shares (nfp/runtime_setup.hpp).
CLI::Option* add_threads_option(CLI::App& cmd, int& threads);

// `--device cpu|cuda|cuda:N` with the shared help text (nfp/device.hpp); a malformed value is a usage error (exit
// 2). Whether this build and machine have the GPU is checked when the command runs (nfp::Error, exit 1).
CLI::Option* add_device_option(CLI::App& cmd, std::string& device);
// `--force`: the one way to let a command replace an existing output (output_checks.cpp).
CLI::Option* add_force_flag(CLI::App& cmd, bool& force);
// Call before any work: when `path` exists and !force, a usage error (exit 2), one line naming the path and
// --force. Nothing is replaced without --force; with it the new output still appears only once complete.
void refuse_existing_output(const std::filesystem::path& path, bool force, const std::string& flag = "--out");

// The words of this process's command line, argv[0] first (a command that re-runs itself: `nfp train --nproc`).
const std::vector<std::string>& command_line();

// The `nfp bench` parent command, created on first use: benchmark files each add `nfp bench <name>` to it.
CLI::App& bench_command(CLI::App& root);

}  // namespace nfp::cli

#define NFP_COMMAND(name, setup) static const ::nfp::cli::CommandRegistrar nfp_registrar_##setup(name, setup)
