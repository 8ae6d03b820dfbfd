// The `nfp` command. Subcommands live one per file in this folder (see command.hpp).
#include <c10/util/Exception.h>

#include <cstdio>
#include <iostream>
#include <map>
#include <sstream>

#include "command.hpp"
#include "nfp/error.hpp"

namespace nfp::cli {

static std::map<std::string, CommandSetup>& registry() {
  static std::map<std::string, CommandSetup> r;
  return r;
}

CommandRegistrar::CommandRegistrar(const std::string& name, CommandSetup setup) {
  registry().emplace(name, std::move(setup));
}

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

void print_json_line(const std::string& json_line) {
  std::cout << json_line << std::endl;
}

CLI::App& bench_command(CLI::App& root) {
  for (CLI::App* sub : root.get_subcommands([](CLI::App*) { return true; }))
    if (sub->get_name() == "bench") return *sub;
  CLI::App* bench = root.add_subcommand("bench", "Benchmarks: speed, quality and the papers' claims, measured here");
  bench->require_subcommand(1);
  return *bench;
}

}  // namespace nfp::cli

int main(int argc, char** argv) {
  CLI::App app{"nfp — robot policies with normalizing-flow action decoders (NinA, NF-P) and their baselines"};
  app.set_version_flag("--version", std::string("nfp 0.1.0"));
  app.require_subcommand(1);
  for (auto& [name, setup] : nfp::cli::registry()) setup(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    // One line, like every other error (CLI11's own adds a second line).
    std::fprintf(stderr, "nfp: error: %s (see --help)\n", e.what());
    return e.get_exit_code();
  } catch (const nfp::Error& e) {
    std::fprintf(stderr, "nfp: error: %s\n", e.what());
    return 1;
  } catch (const c10::Error& e) {
    std::fprintf(stderr, "nfp: error: %s\n", e.what_without_backtrace());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "nfp: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
