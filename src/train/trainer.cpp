// The training loop: data split and normalizer, AdamW + schedule + clipping, EMA, validation, atomic
// checkpoints, exact resume.
#include "nfp/trainer.hpp"

#include <ATen/CPUGeneratorImpl.h>

#include <charconv>
#include <chrono>
#include <cmath>
#include <sstream>

#include "nfp/atomic_file.hpp"
#include "nfp/checkpoint.hpp"
#include "nfp/data_loader.hpp"
#include "nfp/device.hpp"
#include "nfp/distributed.hpp"
#include "nfp/episode_store.hpp"
#include "nfp/error.hpp"
#include "nfp/flow.hpp"
#include "nfp/progress.hpp"
#include "nfp/runtime_setup.hpp"
#include "nfp/tensor_io.hpp"
#include "train/episode_split.hpp"
#include "train/run_directory.hpp"
#include "train/observation_setup.hpp"

namespace nfp {
namespace {

namespace fs = std::filesystem;

struct Position {
  int64_t step = 0, epoch = 0, batch = 0;  // next step; loader epoch and batches already taken from it
};

// Every random stream a training step draws from: the trainer's (noise, dropout, ...) and the random-shift
// streams of the training model's image encoders (one per encoder, seeded as the policy seeds them). All of
// them go into the train state, so a resumed image run draws the shifts an uninterrupted one would.
struct TrainRng {
  at::Generator train;
  std::vector<at::Generator> shifts;
};

// The trainer's stream lives on `device` (the heads draw noise there); the shift streams stay on the CPU.
TrainRng make_train_rng(Policy& model, uint64_t seed, torch::Device device) {
  TrainRng rng{make_generator(device, seed), {}};
  for (const auto& child : model->named_children()) {  // registration order: image_encoder[_i], i = 0, 1, ...
    auto enc = std::dynamic_pointer_cast<ImageEncoderImpl>(child.value());
    if (!enc) continue;
    rng.shifts.push_back(at::make_generator<at::CPUGeneratorImpl>(model->config().head.seed + 1000 + rng.shifts.size()));
    enc->set_shift_generator(rng.shifts.back());
  }
  return rng;
}

void save_run_checkpoint(const fs::path& run, Policy& model, Policy& ema, const AdamW& opt, TrainRng& rng,
                         const Position& pos, const std::string& metrics_csv, int64_t keep) {
  TrainState st;
  for (const auto& item : model->named_parameters()) st.tensors["param/" + item.key()] = item.value();
  for (const auto& [k, v] : opt.state()) st.tensors[k] = v;
  st.tensors["rng/train"] = rng.train.get_state();
  for (size_t i = 0; i < rng.shifts.size(); ++i) st.tensors["rng/shift" + std::to_string(i)] = rng.shifts[i].get_state();
  st.tensors["rng/default"] = at::detail::getDefaultCPUGenerator().get_state();
  st.metadata = {{"step", std::to_string(pos.step)},
                 {"epoch", std::to_string(pos.epoch)},
                 {"batch", std::to_string(pos.batch)},
                 {"adam_steps", std::to_string(opt.steps())},
                 {"rng_train_device", rng.train.device().is_cuda() ? "cuda" : "cpu"}};
  save_checkpoint(*ema, run / "checkpoint", &st);
  add_to_history(run / "checkpoint", run / "checkpoints", pos.step, keep);
  write_file_atomic(run / "metrics.csv", metrics_csv);
}

Position load_run_checkpoint(const fs::path& dir, Policy& model, Policy& ema, AdamW& opt, TrainRng& rng, uint64_t seed) {
  load_module(*ema, dir / "model.safetensors");
  const TrainState st = load_train_state(dir);
  torch::NoGradGuard ng;
  for (auto& item : model->named_parameters()) {
    auto it = st.tensors.find("param/" + item.key());
    require(it != st.tensors.end(), "train state: parameter " + item.key() + " is missing; was the run's config changed?");
    item.value().copy_(it->second);
  }
  auto bufs = ema->named_buffers();
  for (auto& item : model->named_buffers()) item.value().copy_(bufs[item.key()]);
  std::map<std::string, torch::Tensor> os;
  for (const auto& [k, v] : st.tensors)
    if (k.rfind("adam_", 0) == 0) os[k] = v;
  auto meta = [&](const std::string& k) {
    require(st.metadata.count(k), "train state: metadata '" + k + "' missing");
    const std::string& v = st.metadata.at(k);
    int64_t n = 0;
    const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    require(ec == std::errc() && end == v.data() + v.size() && !v.empty(),
            "train state: metadata '" + k + "' is " + quoted_value(v, 40) + ", not a whole number (a damaged checkpoint)");
    return n;
  };
  auto tensor = [&](const std::string& k) {
    auto it = st.tensors.find(k);
    require(it != st.tensors.end(), "train state: tensor '" + k + "' missing");
    return it->second;
  };
  opt.load_state(os, meta("adam_steps"));
  // A stream's state is per device type: resumed on another one, the trainer's stream restarts from (seed, step).
  auto saved = st.metadata.find("rng_train_device");  // absent: written before devices, on the CPU
  const bool saved_on_cuda = saved != st.metadata.end() && saved->second == "cuda";
  if (saved_on_cuda == rng.train.device().is_cuda())
    rng.train.set_state(tensor("rng/train"));
  else
    rng.train = make_generator(rng.train.device(), seed + uint64_t(meta("step")));
  for (size_t i = 0; i < rng.shifts.size(); ++i) {  // absent in checkpoints written before they were saved
    auto it = st.tensors.find("rng/shift" + std::to_string(i));
    if (it != st.tensors.end()) rng.shifts[i].set_state(it->second);
  }
  at::Generator default_gen = at::detail::getDefaultCPUGenerator();  // shares the default generator's state
  default_gen.set_state(tensor("rng/default"));
  return {meta("step"), meta("epoch"), meta("batch")};
}

// Moves a training batch to the model's device (a no-op on the CPU).
void move_batch(Batch& b, torch::Device device) {
  if (device.is_cpu()) return;
  move_to(b, device);
  b.actions = b.actions.to(device);
  b.action_pad = b.action_pad.to(device);
}

double validate(Policy& ema, DataLoader& loader, uint64_t seed, torch::Device device) {
  torch::NoGradGuard ng;
  ema->eval();
  auto gen = make_generator(device, seed);
  loader.start_epoch(0);
  double sum = 0;
  int64_t n = 0;
  while (auto b = loader.next()) {
    move_batch(*b, device);
    auto ctx = ema->encode(*b);
    sum += ema->head()->validation_loss(b->actions, ctx, gen).item<double>() * double(b->size());
    n += b->size();
    if (n >= 4096) break;  // enough for a stable figure
  }
  return n > 0 ? sum / double(n) : NAN;
}

}  // namespace

TrainResult train_policy(const TrainRequest& req) {
  const torch::Device device = resolve_device(req.device);  // before anything is read or written
  PolicyConfig pc = req.policy;
  TrainConfig tc = req.train;
  std::string data = req.data;
  const fs::path from = req.resume_from.empty() ? req.out / "checkpoint" : req.resume_from;
  const bool lead = req.dist.rank == 0;  // the rank that writes the run directory
  std::unique_ptr<ProcessGroup> group;
  if (req.dist.distributed()) {
    require(device.is_cpu(), "distributed training runs on the CPU (Gloo): NCCL for GPUs is not implemented yet; "
                             "drop --device, or train on one GPU without RANK / WORLD_SIZE");
    group = std::make_unique<ProcessGroup>(req.dist, req.dist_timeout_s);
  }
  // A checkpoint commit killed between its renames left no checkpoint/: its directory goes back first.
  if (lead) recover_staged_dir(req.out / "checkpoint");
  if (lead && !req.resume_from.empty()) recover_staged_dir(from);
  // A run stopped before its first checkpoint commit has its train_config.json and nothing trained to lose: --resume
  // starts it over from that configuration (exactly what the uninterrupted run did from step 0).
  // Rank 0 reads the run directory; the other ranks (perhaps on machines without it) receive what it read.
  json run;  // {"before_first_checkpoint", "saved": train_config.json, "stats": the checkpoint's normalizer}
  if (req.resume && lead) {
    const bool before_first = req.resume_from.empty() && fs::exists(req.out / "train_config.json") && !fs::exists(from);
    require(fs::exists(req.out / "train_config.json"),
            "--resume: " + req.out.string() + " has no complete checkpoint; start a new run without --resume");
    require(before_first || fs::exists(from / "train_state.safetensors"),
            "--resume: " + from.string() + " is not a complete checkpoint of the run (no train_state.safetensors); "
            "resume from RUN/checkpoint or one of RUN/checkpoints/<step>");
    run = {{"before_first_checkpoint", before_first}, {"saved", read_json_file(req.out / "train_config.json")}};
    if (!before_first) run["stats"] = Normalizer::load(from / "stats.json").to_json();
  }
  if (req.resume && group) {
    std::string text = run.dump();
    group->broadcast_string(text);
    run = json::parse(text);
  }
  const bool before_first_checkpoint = req.resume && run.at("before_first_checkpoint").get<bool>();
  const bool resume = req.resume && !before_first_checkpoint;
  if (req.resume) {
    const json& saved = run.at("saved");
    pc = saved.at("policy").get<PolicyConfig>();
    tc = saved.at("train").get<TrainConfig>();
    // Runs from before masks were read split every episode at random: resume them the same way.
    if (!saved.at("train").contains("filter")) tc.filter = "none", tc.valid_filter = "fraction";
    if (data.empty()) data = saved.at("data").get<std::string>();
    if (req.resume_steps > 0) tc.steps = req.resume_steps;
  } else if (lead) {
    check_new_run_dir(req.out);
  }
  require(tc.steps >= 1 && tc.batch >= 1 && tc.lr > 0, "train: steps, batch and lr must be positive");
  require(tc.keep_checkpoints >= 0, "train: keep_checkpoints must be >= 0");
  require(tc.checkpoint_every >= 1 && tc.validate_every >= 1 && tc.log_every >= 1,
          "train: checkpoint_every, validate_every and log_every must be >= 1");
  learning_rate(tc.schedule, tc.lr, 0, tc.steps);  // unknown schedule names fail before any work
  configure_threads(tc.threads);
  set_deterministic(tc.deterministic);
  seed_everything(tc.seed);

  require(has_modality(pc, "images") || (pc.image_preprocess.resize.empty() && pc.image_preprocess.crop.empty()),
          "--image-size / --crop: this policy reads no images; add images to --obs (or name --cameras)");
  EpisodeSplit split = split_for_training(data, tc, pc.image_preprocess.resize);
  tc.filter = split.filter;  // recorded resolved, so that a resumed run reads the same episodes
  tc.valid_filter = split.valid_filter;
  EpisodeStore& train_store = split.train;
  EpisodeStore& valid_store = split.valid;
  require(!train_store.episodes.empty(), "train: the dataset has no training episodes");
  Normalizer norm = resume ? Normalizer::from_json(run.at("stats"), (from / "stats.json").string())
                           : compute_normalizer(train_store);
  if (!resume) {
    resolve_observations(pc, train_store);
    pc.obs_dims.clear();
    for (const auto& k : pc.obs_keys) pc.obs_dims.push_back(norm.at(k).dim());
    pc.action_dim = train_store.action_dim;
    pc.head.seed = tc.seed;
    if (pc.task.empty() && !train_store.files.empty()) {  // robomimic env_args written by `nfp collect`
      const auto& attrs = train_store.files.front().data_attrs;
      if (attrs.contains("env_args") && attrs["env_args"].is_object() && attrs["env_args"].contains("env_name") &&
          attrs["env_args"]["env_name"].is_string())
        pc.task = attrs["env_args"]["env_name"].get<std::string>();
    }
  }
  keep_cameras(train_store, pc.cameras);
  keep_cameras(valid_store, pc.cameras);
  const WindowSpec spec{pc.history, pc.horizon, pc.stride};
  // --crop: a random window of each training image, the centre one for validation (as at inference)
  const ImageSize crop = pc.image_preprocess.crop;
  auto train_ds = std::make_shared<WindowDataset>(std::make_shared<EpisodeStore>(std::move(train_store)), spec, norm,
                                                  BatchCrop{crop, true});
  LoaderOptions lo;
  lo.batch_size = std::min(tc.batch, train_ds->size() / req.dist.world_size);
  lo.seed = tc.seed;
  lo.rank = req.dist.rank;
  lo.world_size = req.dist.world_size;
  // low-dim batches are cheap: built inline, keeping the 2 cores for the model; image batches on one worker
  lo.workers = pc.cameras.empty() ? 0 : 1;
  DataLoader loader(train_ds, lo);
  std::unique_ptr<DataLoader> valid_loader;
  if (!valid_store.episodes.empty()) {
    auto valid_ds = std::make_shared<WindowDataset>(std::make_shared<EpisodeStore>(std::move(valid_store)), spec, norm,
                                                    BatchCrop{crop, false});
    LoaderOptions vo = lo;
    vo.shuffle = false;
    vo.drop_last = false;
    vo.batch_size = 512;
    vo.rank = 0, vo.world_size = 1;  // rank 0 validates on the whole validation split
    valid_loader = std::make_unique<DataLoader>(valid_ds, vo);
  }

  torch::manual_seed(tc.seed);
  Policy model = make_policy(pc, norm);
  Policy ema = make_policy(pc, norm);
  copy_weights(*ema, *model);
  if (!device.is_cpu()) {  // initialised on the CPU (the same weights on every device), then moved
    model->to(device);
    ema->to(device);
  }
  pc = model->config();  // with the head's shapes filled in
  model->train();
  std::vector<std::pair<std::string, torch::Tensor>> named;
  for (auto& item : model->named_parameters()) named.emplace_back(item.key(), item.value());
  AdamW opt(named, tc.adamw);
  // each rank its own noise stream (rank 0's is a single process's)
  const uint64_t rng_seed = tc.seed + 1 + 7919 * uint64_t(req.dist.rank);
  TrainRng rng = make_train_rng(model, rng_seed, device);

  Position pos;
  std::string metrics = "step,loss,lr,valid_loss,it_s,elapsed_s\n";
  if (resume && lead) {
    pos = load_run_checkpoint(from, model, ema, opt, rng, rng_seed);
    metrics = metrics_up_to(req.out / "metrics.csv", pos.step);
    if (metrics.empty()) metrics = "step,loss,lr,valid_loss,it_s,elapsed_s\n";
  } else if (lead) {
    std::error_code ec;
    fs::create_directories(req.out, ec);
    require(!ec, "cannot create the run directory " + quoted(req.out.string()) + ": " + ec.message() +
                     "; choose another --out");
  }
  if (group) {  // every rank starts from rank 0's weights, optimizer state and position
    std::vector<torch::Tensor> state;
    for (auto* m : {&model, &ema}) {
      for (auto& t : (*m)->parameters()) state.push_back(t);
      for (auto& t : (*m)->buffers()) state.push_back(t);
    }
    const auto adam = opt.state();
    for (auto& [k, t] : adam) state.push_back(t);
    auto where = torch::tensor({pos.step, pos.epoch, pos.batch, opt.steps()}, torch::kInt64);
    state.push_back(where);
    group->broadcast(state);
    pos = {where[0].item<int64_t>(), where[1].item<int64_t>(), where[2].item<int64_t>()};
    opt.load_state(adam, where[3].item<int64_t>());  // the moments are already rank 0's; its step count too
    if (resume && !lead) rng.train = make_generator(device, rng_seed + uint64_t(pos.step));  // its own noise stream
  }
  if (resume)
    require(pos.step <= tc.steps, "--resume: the checkpoint is at step " + std::to_string(pos.step) +
                                      ", beyond --steps " + std::to_string(tc.steps));
  if (lead) write_json_file(req.out / "train_config.json", json{{"policy", pc}, {"train", tc}, {"data", data}});

  TrainResult result;
  result.data_split = split.description;
  result.obs_keys = pc.obs_keys;
  result.cameras = pc.cameras;
  result.image_hw = pc.image_hw;
  result.image_preprocess = pc.image_preprocess;
  result.parameters = count_parameters(*model);
  const auto t0 = std::chrono::steady_clock::now();
  const int64_t start_step = pos.step;
  Progress bar("train " + pc.head.type, tc.steps - pos.step, req.progress && lead);
  loader.start_epoch(pos.epoch);
  for (int64_t k = 0; k < pos.batch; ++k) loader.next();
  double loss_sum = 0, valid = NAN;
  int64_t loss_n = 0;
  auto params = model->parameters();
  std::unique_ptr<GradientReducer> reducer;  // hooks on the parameters: all-reduces overlap the backward pass
  if (group) reducer = std::make_unique<GradientReducer>(*group, params);
  for (int64_t step = pos.step; step < tc.steps; ++step) {
    auto b = loader.next();
    if (!b) {
      loader.start_epoch(++pos.epoch);
      pos.batch = 0;
      b = loader.next();
    }
    ++pos.batch;
    move_batch(*b, device);
    const bool last = step + 1 == tc.steps;
    const double lr = learning_rate(tc.schedule, tc.lr, step, tc.steps);
    auto loss = model->head()->loss(b->actions, model->encode(*b), rng.train);
    double lv = loss.item<double>();
    const auto diverged = [&] {
      return "training diverged at step " + std::to_string(step) +
             " (loss is not finite); lower --lr or raise clip_grad's strictness";
    };
    if (!group) require(std::isfinite(lv), diverged());
    opt.zero_grad();
    loss.backward();
    bool stop = false;
    if (group) {
      // The global batch's gradient on every rank, before clipping (the same norm everywhere); its loss and any
      // rank's Ctrl-C ride on the same wait, so that every rank stops (or diverges) at the same step.
      const bool want_stop = !last && req.stop_requested && req.stop_requested();
      group->mark_step(step);
      const auto sums = reducer->finish({lv, want_stop ? 1.0 : 0.0});
      lv = sums[0] / double(req.dist.world_size);
      stop = sums[1] > 0;
      require(std::isfinite(lv), diverged());
    }
    if (tc.clip_grad > 0) torch::nn::utils::clip_grad_norm_(params, tc.clip_grad);
    opt.step(lr);
    if (tc.ema > 0) ema_update(*ema, *model, tc.ema, step); else copy_weights(*ema, *model);
    if (group && req.dist_check) {  // every rank holds rank 0's weights and EMA weights, bit for bit
      std::vector<torch::Tensor> weights = params;
      for (const auto& p : ema->parameters()) weights.push_back(p);
      group->check_same_everywhere(weights, "--dist-check: after step " + std::to_string(step + 1));
    }
    loss_sum += lv;
    ++loss_n;
    pos.step = step + 1;
    if (lead && valid_loader && (pos.step % tc.validate_every == 0 || last)) {
      valid = validate(ema, *valid_loader, tc.seed + 7, device);
    }
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (pos.step % tc.log_every == 0 || last) {
      result.train_loss = loss_sum / double(loss_n);
      std::ostringstream row;
      row << pos.step << "," << result.train_loss << "," << lr << "," << valid << "," << bar.rate() << "," << elapsed << "\n";
      metrics += row.str();
      loss_sum = 0;
      loss_n = 0;
    }
    std::vector<std::pair<std::string, double>> figures = {{"loss", lv}, {"lr", lr}};
    if (std::isfinite(valid)) figures.emplace_back("valid", valid);  // none before the first validation
    bar.update(pos.step - start_step, figures);
    if (req.on_step) req.on_step(pos.step, lv);
    if (!group) stop = !last && req.stop_requested && req.stop_requested();
    if (lead && (pos.step % tc.checkpoint_every == 0 || last || stop))
      save_run_checkpoint(req.out, model, ema, opt, rng, pos, metrics, tc.keep_checkpoints);
    if (stop) {
      result.interrupted = true;
      break;
    }
  }
  if (reducer) {
    result.allreduce_bytes = reducer->bytes();
    result.allreduce_buckets = reducer->buckets();
    result.allreduce_wait_s = reducer->wait_seconds();
  }
  bar.finish();
  result.steps = pos.step;
  result.steps_run = pos.step - start_step;
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  result.valid_loss = valid;
  result.checkpoint = req.out / "checkpoint";
  return result;
}

}  // namespace nfp
