// `nfp collect`: scripted-expert demonstrations of a simulated task, written as robomimic-layout HDF5.
#include <cstdio>
#include <sstream>

#include "command.hpp"
#include "nfp/error.hpp"
#include "nfp/hdf5_dataset.hpp"
#include "nfp/progress.hpp"
#include "nfp/sim_record.hpp"

namespace {

struct CollectArgs {
  std::string task, out, cameras;
  int episodes = 100, image_size = 96, goal = -1;
  uint64_t seed = 0;
  bool images = false, clean = false, json = false, force = false;
};

void run_collect(const CollectArgs& a) {
  nfp::cli::refuse_existing_output(a.out, a.force);  // before any simulation
  nfp::sim::CollectOptions o;
  o.task = a.task;
  o.episodes = a.episodes;
  o.seed = a.seed;
  o.clean = a.clean;
  o.env.images = a.images || !a.cameras.empty();
  o.env.image_size = a.image_size;
  o.env.goal = a.goal;
  std::stringstream ss(a.cameras);
  for (std::string c; std::getline(ss, c, ',');)
    if (!c.empty()) o.env.cameras.push_back(c);
  const nfp::sim::TaskSpec spec = nfp::sim::task_spec(a.task);  // unknown task: fail before any work
  nfp::require(a.goal < static_cast<int>(spec.instructions.size()),
               "task '" + a.task + "' has goals 0.." + std::to_string(spec.instructions.size() - 1) +
                   " (one per instruction; see `nfp tasks " + a.task + "`), got --goal " + std::to_string(a.goal));
  auto out_dir = std::filesystem::absolute(a.out).parent_path();
  nfp::require(std::filesystem::is_directory(out_dir),
               "output directory " + out_dir.string() + " does not exist; create it or pick another --out");
  nfp::Progress bar("collect " + a.task, a.episodes);
  auto result = nfp::sim::collect_demos(o, [&](int kept, int attempts) {
    bar.update(kept, {{"discarded", attempts - kept}});
  });
  bar.finish();
  nfp::write_robomimic(a.out, result.episodes, result.env_args);
  std::printf("collected %d %s episodes (%d discarded of %d) into %s; mean length %.1f steps\n",
              static_cast<int>(result.episodes.size()), a.task.c_str(), result.discarded, result.attempts,
              a.out.c_str(), result.mean_length);
  if (a.json)
    nfp::cli::print_json_line(nlohmann::json{{"task", a.task},
                                             {"out", a.out},
                                             {"kept", result.episodes.size()},
                                             {"discarded", result.discarded},
                                             {"attempts", result.attempts},
                                             {"mean_length", result.mean_length}}
                                  .dump());
}

void setup_collect(CLI::App& root) {
  auto a = std::make_shared<CollectArgs>();
  CLI::App* cmd = root.add_subcommand("collect", "Record scripted-expert demonstrations of a simulated task "
                                                 "(robomimic-layout HDF5); failed expert episodes are discarded");
  cmd->add_option("--task", a->task, "Task name (see `nfp tasks`)")->required();
  cmd->add_option("--episodes", a->episodes, "Successful episodes to keep")->check(nfp::cli::whole(1, 10000000));
  cmd->add_option("--seed", a->seed, "Episode i uses seed + i")->check(nfp::cli::seed_value());
  cmd->add_option("--out", a->out, "Output HDF5 file")->required();
  cmd->add_flag("--images", a->images, "Record camera images (every camera unless --cameras)");
  cmd->add_option("--cameras", a->cameras, "Comma-separated cameras, e.g. top,wrist (implies --images)");
  cmd->add_option("--image-size", a->image_size, "Images are N x N")->check(CLI::Range(8, 1024));
  cmd->add_option("--goal", a->goal, "multi-task: every episode gets this goal index (default: drawn from its seed)")
      ->check(nfp::cli::whole(0, 1000000));
  cmd->add_flag("--clean", a->clean, "No human-like jitter or pauses in the expert");
  nfp::cli::add_force_flag(*cmd, a->force);
  cmd->add_flag("--json", a->json, "Print one JSON object as the last line");
  cmd->callback([a] { run_collect(*a); });
}

}  // namespace

NFP_COMMAND("collect", setup_collect);
