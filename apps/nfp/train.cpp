// `nfp train`: train a policy (flow head or baseline) on a demonstration dataset.
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <thread>

#include "command.hpp"
#include "nfp/distributed.hpp"
#include "nfp/error.hpp"
#include "nfp/head_registry.hpp"
#include "nfp/image_preprocess.hpp"
#include "nfp/progress.hpp"
#include "nfp/rank_launcher.hpp"
#include "nfp/trainer.hpp"

namespace nfp::cli {
namespace {

struct TrainArgs {
  std::string data, policy = "nina-mlp", out, config, task, obs, cameras, encoder, obs_keys, filter, valid_filter;
  std::string image_size, crop;  // H[,W]
  std::string device = "cpu";
  int64_t steps = 0, batch = 0, horizon = 0, history = 0, n_action_steps = 0, stride = 0, checkpoint_every = 0;
  int64_t keep_checkpoints = -1;
  std::string resume_from;
  double lr = 0, action_noise = -1, sigma = -1;
  int64_t seed = -1;
  int threads = 0;  // 0: train_config.json's value (TrainConfig default: kDefaultThreads)
  int nproc = 1;    // > 1: launch that many local ranks of this same command
  double dist_timeout = 0;  // 0: TrainRequest's default
  bool resume = false, deterministic = false, json_out = false, no_progress = false, dist_check = false;
};

std::string joined(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

// "a, b, c": the registered heads, for --help.
std::string head_list() { return joined(head_names()); }

// H[,W] flag values: a bad one is a usage error (exit 2) before any work.
CLI::Validator image_size_validator() {
  return CLI::Validator(
      [](std::string& v) -> std::string {
        try {
          parse_image_size(v, "");
        } catch (const Error& e) {
          return e.what();
        }
        return "";
      },
      "H[,W]");
}

// " at 88 x 120 (resized from 480 x 640, cropped from 96 x 128)": what the encoder sees and how it got there.
std::string images_line(const TrainResult& r) {
  if (r.image_hw.size() != 2) return "";
  const ImagePreprocess& p = r.image_preprocess;
  std::string s = " at " + to_string(ImageSize{r.image_hw[0], r.image_hw[1]});
  std::string how;
  if (!p.resize.empty() && !p.source.empty()) how = "resized from " + to_string(p.source.front());
  if (!p.crop.empty()) how += (how.empty() ? "" : ", ") + std::string("cropped from ") + to_string(p.crop_from);
  return how.empty() ? s : s + " (" + how + ")";
}

volatile std::sig_atomic_t g_stop_signal = 0;
extern "C" void request_stop(int sig) { g_stop_signal = sig; }

// `--nproc N`: this command line again as N ranks on this machine (torchrun's variables for each), the threads of
// the cores shared among them unless --threads says otherwise. Exits with the first failing rank's code.
void launch_local_ranks(const TrainArgs& a) {
  require(!std::getenv("RANK") && !std::getenv("WORLD_SIZE"),
          "--nproc: RANK / WORLD_SIZE are already set (this process is a rank of a launched job); drop --nproc, or "
          "unset them to launch the ranks here");
  RankLaunch l;
  l.nproc = a.nproc;
  // MASTER_ADDR / MASTER_PORT if the user set them (validated as a rank would), else loopback and a free port
  const DistEnv where = parse_dist_env([](const char* name) -> const char* {
    const std::string n = name;
    return n == "RANK" ? "0" : n == "WORLD_SIZE" ? "1" : std::getenv(name);
  });
  l.master_addr = where.master_addr;
  if (std::getenv("MASTER_PORT")) l.master_port = where.master_port;
  const int cores = int(std::max(1u, std::thread::hardware_concurrency()));
  l.threads_per_rank = a.threads > 0 ? a.threads : std::max(1, cores / a.nproc);
  std::error_code ec;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);  // the path `ps` shows for each rank
  l.argv = {ec ? std::string("/proc/self/exe") : self.string()};
  const auto& words = command_line();
  for (size_t i = 1; i < words.size(); ++i) {
    if (words[i] == "--nproc") {
      ++i;
      continue;
    }
    if (words[i].rfind("--nproc=", 0) != 0) l.argv.push_back(words[i]);
  }
  if (a.threads == 0) l.argv.insert(l.argv.end(), {"--threads", std::to_string(l.threads_per_rank)});
  const LaunchResult res = launch_ranks(l);
  if (res.failed_rank >= 0) std::cerr << "nfp train: " << res.message << "; the other ranks were stopped\n";
  if (res.exit_code != 0) std::exit(res.exit_code);
}

void run_train(const TrainArgs& a) {
  if (a.nproc > 1) return launch_local_ranks(a);
  TrainRequest r;
  r.data = a.data;
  r.out = a.out;
  r.resume = a.resume || !a.resume_from.empty();
  r.resume_from = a.resume_from;
  r.resume_steps = r.resume ? a.steps : 0;
  r.progress = !a.no_progress;
  r.device = a.device;  // checked (CUDA present?) before anything is read or written
  r.dist = dist_env_from_environment();  // torchrun's RANK / WORLD_SIZE / MASTER_ADDR / MASTER_PORT, if set
  if (a.dist_timeout > 0) r.dist_timeout_s = a.dist_timeout;
  r.dist_check = a.dist_check;
  if (!r.resume) {
    require(!a.data.empty(), "--data is required (a demonstration HDF5 file, directory or glob)");
    r.policy = default_policy_config(a.policy);
    r.train = default_train_config(a.policy);
    if (!a.encoder.empty()) {  // before --config, so that a config's image_encoder keys refine it
      r.policy.image_encoder.type = a.encoder;
      if (a.encoder == "resnet18") r.policy.image_encoder.width = 1.0;  // full ResNet-18 is one flag away
    }
    bool config_sets_shift = false;
    if (!a.config.empty()) {
      json cfg = read_json_file(a.config);
      config_sets_shift = cfg.contains("policy") && cfg["policy"].contains("image_encoder") &&
                          cfg["policy"]["image_encoder"].contains("shift_pad");
      require(cfg.is_object(), a.config + ": expected {\"policy\": {...}, \"train\": {...}}");
      for (const auto& [k, v] : cfg.items())
        require(k == "policy" || k == "train", a.config + ": unknown top-level key '" + k + "' (expected policy, train)");
      if (cfg.contains("policy")) from_json(cfg["policy"], r.policy);
      if (cfg.contains("train")) from_json(cfg["train"], r.train);
    }
    if (a.steps > 0) r.train.steps = a.steps;
    if (a.batch > 0) r.train.batch = a.batch;
    if (a.lr > 0) r.train.lr = a.lr;
    if (a.seed >= 0) r.train.seed = uint64_t(a.seed);
    if (!a.filter.empty()) r.train.filter = a.filter;
    if (!a.valid_filter.empty()) r.train.valid_filter = a.valid_filter;
    if (a.threads > 0) r.train.threads = a.threads;
    if (a.checkpoint_every > 0) r.train.checkpoint_every = a.checkpoint_every;
    if (a.keep_checkpoints >= 0) r.train.keep_checkpoints = a.keep_checkpoints;
    if (a.deterministic) r.train.deterministic = true;
    if (a.horizon > 0) r.policy.horizon = a.horizon;
    if (a.history > 0) r.policy.history = a.history;
    if (a.stride > 0) r.policy.stride = a.stride;
    if (a.n_action_steps > 0) r.policy.n_action_steps = a.n_action_steps;
    if (a.action_noise >= 0) r.policy.head.action_noise = a.action_noise;
    if (a.sigma >= 0) r.policy.head.sigma = a.sigma;
    if (!a.task.empty()) r.policy.task = a.task;
    if (!a.obs.empty()) r.policy.obs = split_commas(a.obs);
    if (!a.cameras.empty()) {
      r.policy.cameras = split_commas(a.cameras);
      if (a.obs.empty()) r.policy.obs = {"images", "state"};  // naming cameras means training on them
    }
    if (!a.obs_keys.empty()) r.policy.obs_keys = split_commas(a.obs_keys);
    if (!a.image_size.empty()) r.policy.image_preprocess.resize = parse_image_size(a.image_size, "--image-size");
    if (!a.crop.empty()) {
      r.policy.image_preprocess.crop = parse_image_size(a.crop, "--crop");
      // The crop is the translation augmentation (Diffusion Policy's alone); DrQ's shift stacks on it only if asked.
      if (!config_sets_shift) r.policy.image_encoder.shift_pad = 0;
    }

  }
  // Ctrl-C / SIGTERM: finish the current step, checkpoint it and exit 130; `--resume` continues from there.
  std::signal(SIGINT, request_stop);
  std::signal(SIGTERM, request_stop);
  r.stop_requested = [] { return g_stop_signal != 0; };
  auto res = train_policy(r);
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
  if (res.interrupted && r.dist.rank > 0) {  // rank 0 wrote the checkpoint and says so
    std::cerr << "rank " << r.dist.rank << " of " << r.dist.world_size << ": stopped at step " << res.steps
              << " with the others\n";
    std::exit(130);
  }
  if (res.interrupted) {
    std::cerr << "nfp train: interrupted at step " << res.steps << "; checkpoint saved in " << res.checkpoint.string()
              << "; continue with: nfp train --out " << a.out << " --resume\n";
    std::exit(130);
  }
  if (r.dist.rank > 0) {  // rank 0 reports the run (and wrote it)
    std::cout << "rank " << r.dist.rank << " of " << r.dist.world_size << ": trained " << res.steps_run << " steps\n";
    return;
  }
  if (res.steps_run == 0) {  // a resumed run already at its total: nothing trained, nothing rewritten
    std::cout << "nothing to train: " << a.out << " is already at step " << res.steps
              << " (--steps is the run's total; pass a larger one to continue)\n";
    if (a.json_out) print_json_line(json{{"out", a.out}, {"steps", res.steps}, {"steps_run", 0}}.dump());
    return;
  }
  std::cout << "trained " << a.out << ": " << res.steps << " steps in " << format_duration(res.seconds) << ", "
            << res.parameters << " parameters, train loss " << res.train_loss << ", valid loss " << res.valid_loss
            << "\n"
            << "data: " << res.data_split << "\n"
            << "observations: " << (res.obs_keys.empty() ? "no low-dim keys" : "low-dim " + joined(res.obs_keys))
            << (res.cameras.empty() ? "" : ", cameras " + joined(res.cameras) + images_line(res))
            << " (--obs-keys, --cameras choose others)\n";
  if (a.json_out)
    print_json_line(json{{"out", a.out}, {"checkpoint", res.checkpoint.string()}, {"steps", res.steps},
                         {"steps_run", res.steps_run}, {"seconds", res.seconds}, {"parameters", res.parameters}, {"train_loss", res.train_loss},
                         {"valid_loss", std::isfinite(res.valid_loss) ? json(res.valid_loss) : json(nullptr)},
                         {"data_split", res.data_split}, {"obs_keys", res.obs_keys}, {"cameras", res.cameras},
                         {"image_hw", res.image_hw}, {"world_size", r.dist.world_size},
                         {"allreduce", r.dist.distributed() ? json{{"bytes_per_step", res.allreduce_bytes},
                                                                   {"buckets", res.allreduce_buckets},
                                                                   {"wait_s", res.allreduce_wait_s}}
                                                            : json(nullptr)}}
                        .dump());
}

void setup_train(CLI::App& root) {
  auto a = std::make_shared<TrainArgs>();
  auto* c = root.add_subcommand("train", "Train a policy (flow head or baseline) on demonstrations");
  c->add_option("--data", a->data, "demonstrations: HDF5 file, directory or glob (robomimic / LIBERO / ACT)");
  c->add_option("--policy", a->policy, "head: " + head_list())
      ->capture_default_str();
  c->add_option("--out", a->out, "run directory (checkpoint/, metrics.csv, train_config.json)")->required();
  c->add_option("--config", a->config, "JSON {\"policy\": {...}, \"train\": {...}} overriding the defaults");
  c->add_option("--steps", a->steps, "optimizer steps (with --resume: the new total)")->check(whole(1, 1000000000));
  c->add_option("--batch", a->batch, "batch size")->check(whole(1, 1000000));
  c->add_option("--lr", a->lr, "peak learning rate")->check(positive_real(10));
  c->add_option("--seed", a->seed, "seed (split, initialisation, batches, noise)")->check(whole(0, INT64_MAX));
  c->add_option("--filter", a->filter,
                "training episodes: a robomimic mask (mask/<name>), auto (mask/train if the file has it) or none "
                "(every episode); default auto");
  c->add_option("--valid-filter", a->valid_filter,
                "validation episodes: a mask, auto (mask/valid with a training mask, else fraction), fraction "
                "(a seeded 10% of the training episodes) or none; default auto");
  add_threads_option(*c, a->threads);
  c->add_option("--nproc", a->nproc,
                "data-parallel on N processes of this machine (each with torchrun's variables; --batch is per rank, "
                "--threads per rank, default cores / N); Ctrl-C stops every rank at one step with a checkpoint")
      ->check(whole(1, 1024));
  c->add_option("--dist-timeout", a->dist_timeout,
                "data-parallel runs: seconds a rank waits for the others before ending with an error that names the "
                "missing rank (default 300)")
      ->check(positive_real(86400));
  c->add_flag("--dist-check", a->dist_check,
              "data-parallel runs: after every step, check that every rank holds rank 0's weights (a debugging aid)");
  add_device_option(*c, a->device);
  c->add_option("--horizon", a->horizon, "actions per chunk (default 16)")->check(whole(1, 1024));
  c->add_option("--history", a->history, "observation frames (default 2)")->check(whole(1, 1024));
  c->add_option("--stride", a->stride, "frame stride of windows (NF-P; default 1)")->check(whole(1, 1024));
  c->add_option("--n-action-steps", a->n_action_steps, "actions executed per chunk (default 2)")->check(whole(1, 1024));
  c->add_option("--action-noise", a->action_noise, "flow heads: training noise on normalized actions (default 0.05)")
      ->check(non_negative_real(100));
  c->add_option("--sigma", a->sigma, "flow heads: default sampling std")->check(non_negative_real(100));
  c->add_option("--obs", a->obs, "observations: comma list of state, images, instruction (default state)");
  c->add_option("--cameras", a->cameras, "cameras to train on, e.g. top,wrist (default with images: all recorded)");
  c->add_option("--obs-keys", a->obs_keys,
                "low-dim keys (default: all; with images only 'state', so objects are seen, not given)");
  c->add_option("--encoder", a->encoder,
                "image encoder: conv (default, CPU-friendly), resnet18 (GroupNorm, full width), torchscript:FILE; "
                "--config {\"policy\": {\"image_encoder\": {...}}} sets width, pool, feature_dim, pretrained");
  c->add_option("--image-size", a->image_size,
                "resize every camera image to H[,W] pixels once, when the dataset is loaded (e.g. 96,128 for ACT's "
                "480 x 640; area averaging); recorded in the checkpoint, so eval and the runner resize alike")
      ->check(image_size_validator());
  c->add_option("--crop", a->crop,
                "Diffusion Policy's crop H[,W] (at most the image size, e.g. 76 of 84): a random window in training, "
                "the centre one in evaluation; it replaces the random shift (image_encoder.shift_pad 0 unless "
                "--config sets it)")
      ->check(image_size_validator());
  c->add_option("--task", a->task, "the simulated task the data came from (recorded in config.json)");
  c->add_option("--checkpoint-every", a->checkpoint_every, "steps between checkpoints (default 1000)")
      ->check(whole(1, 1000000000));
  c->add_flag("--resume", a->resume, "continue the run in --out from its last checkpoint");
  c->add_option("--resume-from", a->resume_from,
                "continue the run in --out from one of its checkpoints, e.g. RUN/checkpoints/2000 (implies --resume)");
  c->add_option("--keep-checkpoints", a->keep_checkpoints,
                "checkpoints kept as RUN/checkpoints/<step> beside RUN/checkpoint (default 5; 0: none)")
      ->check(whole(0, 1000000));
  c->add_flag("--deterministic", a->deterministic, "deterministic algorithms (bit-for-bit resume)");
  c->add_flag("--no-progress", a->no_progress, "no progress bar");
  c->add_flag("--json", a->json_out, "print one JSON result object as the last line");
  c->callback([a] { run_train(*a); });
}

}  // namespace

NFP_COMMAND("train", setup_train);

}  // namespace nfp::cli
