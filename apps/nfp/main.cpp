// The `nfp` command. Subcommands live one per file in this folder (see command.hpp).
#include <c10/util/Exception.h>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <map>
#include <sstream>

#include "command.hpp"
#include "nfp/device.hpp"
#include "nfp/error.hpp"
#include "nfp/runtime_setup.hpp"  // threads_help

namespace nfp::cli {

static std::map<std::string, CommandSetup>& registry() {
  static std::map<std::string, CommandSetup> r;
  return r;
}

static std::vector<std::string>& command_line_words() {
  static std::vector<std::string> words;
  return words;
}

const std::vector<std::string>& command_line() { return command_line_words(); }

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

CLI::Option* add_threads_option(CLI::App& cmd, int& threads) {
  return cmd.add_option("--threads", threads, threads_help())->check(whole(1, 1024));
}

CLI::Option* add_device_option(CLI::App& cmd, std::string& device) {
  const CLI::Validator device_form(
      [](std::string& v) -> std::string {
        try {
          nfp::parse_device(v);
        } catch (const nfp::Error& e) {
          const std::string what = e.what();
          return what.substr(what.find(": ") + 2);  // CLI11 names the flag itself
        }
        return "";
      },
      "cpu|cuda[:N]");
  return cmd.add_option("--device", device, nfp::device_help())->check(device_form);
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

// Passive OpenMP waiting where more than one thread is asked for. libgomp (behind Debian's libtorch and OpenBLAS)
// spins ~300,000 iterations at every barrier unless OMP_WAIT_POLICY=PASSIVE; on a loaded machine that made 2 threads
// 4-20x slower than 1 (nfp bench density-speed, docs/RESULTS.md). It reads the variable once, in its constructor, and setenv cannot reach it: even from
// .preinit_array (which runs before libgomp's constructor) libc's own initialisation then resets environ. So with
// `--threads N`, N > 1, and neither OMP_WAIT_POLICY nor GOMP_SPINCOUNT set by the user, the process re-executes
// itself once with OMP_WAIT_POLICY=PASSIVE GOMP_SPINCOUNT=0 (~0.5 s of start-up). One thread, the default, never
// waits at a barrier and pays nothing. If the re-execution fails the command runs as before.
static bool asks_for_threads(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const char* v = nullptr;
    if (std::strcmp(argv[i], "--threads") == 0 && i + 1 < argc) v = argv[i + 1];
    if (std::strncmp(argv[i], "--threads=", 10) == 0) v = argv[i] + 10;
    if (v && std::atoi(v) > 1) return true;
  }
  return false;
}

static void nfp_preinit(int argc, char** argv, char** envp) {
  static char* env[4096];  // no allocation: libc is not initialised yet
  size_t n = 0;
  for (; envp[n]; ++n)
    if (std::strncmp(envp[n], "OMP_WAIT_POLICY=", 16) == 0 || std::strncmp(envp[n], "GOMP_SPINCOUNT=", 15) == 0) return;
  if (n + 3 > sizeof(env) / sizeof(env[0]) || !asks_for_threads(argc, argv)) return;
  for (size_t i = 0; i < n; ++i) env[i] = envp[i];
  env[n] = const_cast<char*>("OMP_WAIT_POLICY=PASSIVE");
  env[n + 1] = const_cast<char*>("GOMP_SPINCOUNT=0");
  env[n + 2] = nullptr;
  execve("/proc/self/exe", argv, env);  // returns only on failure
}
__attribute__((section(".preinit_array"), used)) static void (*const nfp_preinit_entry)(int, char**, char**) = nfp_preinit;

int main(int argc, char** argv) {
  CLI::App app{"nfp — robot policies with normalizing-flow action decoders (NinA, NF-P) and their baselines"};
  app.set_version_flag("--version", std::string("nfp 0.1.0"));
  app.require_subcommand(1);
  nfp::cli::command_line_words().assign(argv, argv + argc);
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
