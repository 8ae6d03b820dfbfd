// How a subcommand joins the `nfp` command: one file per subcommand defines a setup function that adds its
// CLI11 subcommand (options + callback), and registers it with NFP_COMMAND. main.cpp adds them in name order.
#pragma once
#include <CLI/CLI.hpp>
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

// `--threads N` (N >= 1) with the help text and default every command shares (nfp/runtime_setup.hpp).
CLI::Option* add_threads_option(CLI::App& cmd, int& threads);

// `--device cpu|cuda|cuda:N` with the shared help text (nfp/device.hpp); a malformed value is a usage error (exit
// 2). Whether this build and machine have the GPU is checked when the command runs (nfp::Error, exit 1).
CLI::Option* add_device_option(CLI::App& cmd, std::string& device);

// The `nfp bench` parent command, created on first use: benchmark files each add `nfp bench <name>` to it.
CLI::App& bench_command(CLI::App& root);

}  // namespace nfp::cli

#define NFP_COMMAND(name, setup) static const ::nfp::cli::CommandRegistrar nfp_registrar_##setup(name, setup)
