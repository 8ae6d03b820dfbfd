// `nfp replay`: re-simulates a recorded episode from its initial state and actions, optionally to MP4.
#include <cstdio>

#include "command.hpp"
#include "nfp/error.hpp"
#include "nfp/hdf5_dataset.hpp"
#include "nfp/sim_record.hpp"
#include "nfp/video_writer.hpp"

namespace {

struct ReplayArgs {
  std::string file, video, task, camera = "top";
  int episode = 0, image_size = 256, fps = 0;
  bool json = false;
};

void run_replay(const ReplayArgs& a) {
  nfp::ReadOptions ro;
  ro.load_images = false;
  nfp::DatasetInfo info;
  auto episodes = nfp::read_episodes(a.file, ro, &info);
  nfp::require(a.episode >= 0 && a.episode < static_cast<int>(episodes.size()),
               a.file + " has " + std::to_string(episodes.size()) + " episodes; pick --episode 0.." +
                   std::to_string(static_cast<int>(episodes.size()) - 1));
  std::string task = a.task;
  if (task.empty()) {
    const auto& ea = info.data_attrs.contains("env_args") ? info.data_attrs["env_args"] : nlohmann::json();
    nfp::require(ea.is_object() && ea.contains("env_name") && ea["env_name"].is_string(),
                 a.file + " does not name its task (data attribute env_args.env_name); pass --task");
    task = ea["env_name"].get<std::string>();
  }
  nfp::sim::TaskSpec spec = nfp::sim::task_spec(task);
  std::unique_ptr<nfp::VideoWriter> video;
  if (!a.video.empty())
    video = std::make_unique<nfp::VideoWriter>(a.video, a.image_size, a.image_size,
                                               a.fps > 0 ? a.fps : static_cast<int>(spec.control_hz));
  const nfp::Episode& e = episodes[a.episode];
  auto r = nfp::sim::replay_episode(e, task, video.get(), a.camera, a.image_size);
  if (video) video->close();
  std::printf("replayed %s of %s (%s): %d steps, %s (recorded: %s), max state deviation %.3g%s%s\n", e.name.c_str(),
              a.file.c_str(), task.c_str(), r.steps, r.success ? "success" : "FAILURE",
              r.recorded_success ? "success" : "failure", r.max_state_error, video ? ", video " : "",
              video ? a.video.c_str() : "");
  if (a.json)
    nfp::cli::print_json_line(nlohmann::json{{"episode", e.name},
                                             {"task", task},
                                             {"steps", r.steps},
                                             {"success", r.success},
                                             {"recorded_success", r.recorded_success},
                                             {"max_state_error", r.max_state_error},
                                             {"video", a.video}}
                                  .dump());
}

void setup_replay(CLI::App& root) {
  auto a = std::make_shared<ReplayArgs>();
  CLI::App* cmd = root.add_subcommand("replay", "Re-simulate a recorded episode from its stored initial state and "
                                                "actions; report whether it still succeeds; optionally write an MP4");
  cmd->add_option("file", a->file, "Demonstrations (HDF5 written by `nfp collect`)")->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--episode", a->episode, "Episode index (demo_K)")->check(nfp::cli::whole(0, 100000000));
  cmd->add_option("--video", a->video, "Write the replay to this MP4 file");
  cmd->add_option("--camera", a->camera, "Camera for the video");
  cmd->add_option("--image-size", a->image_size, "Video frames are N x N (even)")->check(CLI::Range(16, 1024));
  cmd->add_option("--fps", a->fps, "Video frame rate (default: the task's control rate)")
      ->check(nfp::cli::whole(1, 1000));
  cmd->add_option("--task", a->task, "Task (default: from the file's env_args)");
  cmd->add_flag("--json", a->json, "Print one JSON object as the last line");
  cmd->callback([a] { run_replay(*a); });
}

}  // namespace

NFP_COMMAND("replay", setup_replay);
