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

namespace {

// Exit status of every usage error (a bad flag, value or subcommand), as POSIX utilities use it.
constexpr int kUsageError = 2;

std::string names_of(CLI::App& app) {
  std::string s;
  for (CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) s += (s.empty() ? "" : ", ") + sub->get_name();
  return s;
}

// The subcommand words of a command line must name subcommands: CLI11 alone would say "A subcommand is required"
// for `nfp frobnicate`, and print the parent's help for `nfp frobnicate --help` (exit 0). Returns an error line,
// or "" when the words are fine (options are left to CLI11).
std::string check_subcommand_words(CLI::App& root, int argc, char** argv) {
  CLI::App* at = &root;
  std::string path = "nfp";
  for (int i = 1; i < argc; ++i) {
    const std::string word = argv[i];
    if (word.empty() || word[0] == '-') return "";
    const auto subs = at->get_subcommands([](CLI::App*) { return true; });
    if (subs.empty()) return "";  // a positional argument of a leaf subcommand
    CLI::App* next = nullptr;
    for (CLI::App* sub : subs)
      if (sub->get_name() == word) next = sub;
    if (!next) return "unknown subcommand '" + word + "' of `" + path + "`; its subcommands: " + names_of(*at);
    at = next;
    path += " " + word;
  }
  if (at->get_require_subcommand_min() > 0)
    return "`" + path + "` needs a subcommand: " + names_of(*at) + " (see " + path + " --help)";
  return "";
}

}  // namespace

}  // namespace nfp::cli

int main(int argc, char** argv) {
  CLI::App app{"nfp — robot policies with normalizing-flow action decoders (NinA, NF-P) and their baselines"};
  app.set_version_flag("--version", std::string("nfp 0.1.0"));
  app.require_subcommand(1);
  for (auto& [name, setup] : nfp::cli::registry()) setup(app);
  if (const std::string bad = nfp::cli::check_subcommand_words(app, argc, argv); !bad.empty()) {
    std::fprintf(stderr, "nfp: error: %s\n", bad.c_str());
    return nfp::cli::kUsageError;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    // One line, like every other error (CLI11's own adds a second line); CLI11's own codes (104, 106, ...) are
    // its internals: every usage error exits 2.
    std::fprintf(stderr, "nfp: error: %s (see --help)\n", e.what());
    return nfp::cli::kUsageError;
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
