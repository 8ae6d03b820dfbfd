// `nfp tasks [--json] [--bench]`: the embedded MuJoCo task suite, its action specs and (an alias of
// `nfp bench sim`) its speed.
#include <cstdio>

#include "command.hpp"
#include "bench_sim.hpp"
#include "nfp/sim_env.hpp"

namespace {

struct TasksArgs {
  bool json = false, bench = false;
  double seconds = 1.0;
  int image_size = 96;
  std::vector<std::string> tasks;
};

std::string join(const std::vector<std::string>& v, const char* sep = ",") {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : sep) + x;
  return s;
}

void run_tasks(const TasksArgs& args) {
  using namespace nfp::sim;
  std::vector<std::string> names = args.tasks.empty() ? task_names() : args.tasks;
  nlohmann::json out = {{"tasks", nlohmann::json::array()}};
  for (const auto& n : names) {
    TaskSpec s = task_spec(n);
    nlohmann::json t = env_args_json(s)["env_kwargs"];
    t["name"] = s.name;
    t["description"] = s.description;
    out["tasks"].push_back(t);
    if (!args.json) {
      std::string obs;
      for (const auto& [k, d] : s.obs_dims) obs += (obs.empty() ? "" : " ") + k + "(" + std::to_string(d) + ")";
      std::printf("%-15s %s\n", s.name.c_str(), s.description.c_str());
      std::printf("    action %d: %s\n", s.action.dim, s.action.meaning.c_str());
      std::string bounds;
      for (int i = 0; i < s.action.dim; ++i) {
        char b[128];
        std::snprintf(b, sizeof(b), "%s[%g,%g]", s.action.names[i].c_str(), s.action.low[i], s.action.high[i]);
        bounds += (i ? " " : "") + std::string(b);
      }
      std::printf("    bounds: %s\n", bounds.c_str());
      std::printf("    %g Hz, max %d steps; obs: %s; cameras: %s\n", s.control_hz, s.max_steps, obs.c_str(),
                  join(s.cameras).c_str());
      std::printf("    instruction%s: %s\n", s.instructions.size() > 1 ? "s" : "", join(s.instructions, " | ").c_str());
    }
  }
  if (args.bench) {  // an alias of `nfp bench sim`
    nfp::bench::SimSpeedOptions o;
    o.tasks = names;
    o.seconds = args.seconds;
    o.image_size = args.image_size;
    out["bench"] = nfp::bench::sim_speed(o);
    if (!args.json) std::printf("\n"), nfp::bench::print_sim_speed(out["bench"]);
  }
  if (args.json) nfp::cli::print_json_line(out.dump());
}

void setup_tasks(CLI::App& root) {
  auto args = std::make_shared<TasksArgs>();
  CLI::App* cmd = root.add_subcommand("tasks", "List the simulated tasks: action spec, control rate, step limit, "
                                               "observations, cameras, instructions");
  cmd->add_option("names", args->tasks, "Only these tasks (default: all)");
  cmd->add_flag("--json", args->json, "Print one JSON object as the last line");
  cmd->add_flag("--bench", args->bench, "Also measure simulation and rendering speed (same as `nfp bench sim`)");
  cmd->add_option("--seconds", args->seconds, "Measuring time per figure with --bench")->check(CLI::PositiveNumber);
  cmd->add_option("--image-size", args->image_size, "Image size for --bench")->check(CLI::Range(8, 1024));
  cmd->callback([args] { run_tasks(*args); });
}

}  // namespace

NFP_COMMAND("tasks", setup_tasks);
