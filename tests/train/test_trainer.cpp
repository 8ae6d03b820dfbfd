// Trainer: schedules, checkpoint layout, exact resume, errors. Data: 6 push-two-goals expert episodes.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "nfp/atomic_file.hpp"
#include "nfp/checkpoint.hpp"
#include "nfp/error.hpp"
#include "nfp/hdf5_dataset.hpp"
#include "nfp/policy_runner.hpp"
#include "nfp/safetensors.hpp"
#include "nfp/sim_env.hpp"
#include "nfp/sim_record.hpp"
#include "nfp/trainer.hpp"
#include "nfp_cli.hpp"
#include "train/episode_split.hpp"

namespace nfp {
namespace {

namespace fs = std::filesystem;

class TrainerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = fs::temp_directory_path() / ("nfp_trainer_test_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    sim::CollectOptions o;
    o.task = "push-two-goals";
    o.episodes = 6;
    auto r = sim::collect_demos(o);
    write_robomimic(dir_ / "demos.hdf5", r.episodes, sim::env_args_json(sim::task_spec(o.task)));
    // the same demos as robomimic ships its datasets: with mask/train and mask/valid
    WriteOptions masked;
    masked.masks = {{"train", {"demo_0", "demo_1", "demo_2", "demo_3"}}, {"valid", {"demo_4", "demo_5"}},
                    {"odd", {"demo_1", "demo_3", "demo_5"}}};
    write_robomimic(dir_ / "masked.hdf5", r.episodes, sim::env_args_json(sim::task_spec(o.task)), masked);
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }

  static TrainRequest request(const std::string& head, const std::string& out, int64_t steps) {
    TrainRequest r;
    r.data = (dir_ / "demos.hdf5").string();
    r.out = dir_ / out;
    r.policy = default_policy_config(head);
    r.policy.encoder_hidden = 32;
    r.policy.context_dim = 32;
    r.policy.horizon = 8;
    r.policy.n_action_steps = 4;
    r.policy.head.hidden = 32;
    r.policy.head.layers = 2;
    r.policy.head.down_dims = {16, 32};
    r.train = default_train_config(head);
    r.train.steps = steps;
    r.train.batch = 32;
    r.train.checkpoint_every = 10;
    r.train.validate_every = 10;
    r.train.log_every = 5;
    r.train.deterministic = true;
    r.train.valid_fraction = 0.2;
    r.progress = false;
    return r;
  }
  static fs::path dir_;
};
fs::path TrainerTest::dir_;

TEST(Schedules, WarmupCosineAndTriStage) {
  ScheduleOptions s;
  s.kind = "cosine";
  EXPECT_NEAR(learning_rate(s, 1.0, 0, 100), 0.2, 1e-12);  // 5 warm-up steps: 1/5
  EXPECT_NEAR(learning_rate(s, 1.0, 4, 100), 1.0, 1e-12);
  EXPECT_NEAR(learning_rate(s, 1.0, 100, 100), 0.01, 1e-12);
  s.kind = "tri-stage";
  EXPECT_NEAR(learning_rate(s, 1.0, 10, 100), 1.0, 1e-12);  // held until 5% + 10%
  EXPECT_LT(learning_rate(s, 1.0, 50, 100), 1.0);
  s.kind = "constnat";
  EXPECT_THROW(learning_rate(s, 1.0, 50, 100), Error);
}

TEST_F(TrainerTest, WritesACompleteCheckpointAndLearns) {
  auto r = request("regression", "reg", 40);
  std::vector<double> losses;
  r.on_step = [&](int64_t, double l) { losses.push_back(l); };
  auto res = train_policy(r);
  EXPECT_EQ(res.steps, 40);
  for (auto f : {"config.json", "model.safetensors", "stats.json", "train_state.safetensors"})
    EXPECT_TRUE(fs::exists(dir_ / "reg" / "checkpoint" / f)) << f;
  EXPECT_TRUE(fs::exists(dir_ / "reg" / "metrics.csv"));
  EXPECT_TRUE(std::isfinite(res.valid_loss));
  EXPECT_LT(losses.back(), 0.5 * losses.front());  // MSE of normalized chunks halves in 40 steps
  auto p = load_policy(dir_ / "reg");
  EXPECT_EQ(p->config().task, "push-two-goals");
  EXPECT_EQ(p->config().obs_keys.size(), 2u);
  // a second run into the same directory is refused, not overwritten
  EXPECT_THROW(train_policy(r), Error);
}

// A damaged metrics.csv on --resume is named with its line (it used to fail as `nfp: error: stoll`).
TEST_F(TrainerTest, ResumeNamesADamagedMetricsLine) {
  train_policy(request("regression", "damaged", 10));
  write_file_atomic(dir_ / "damaged" / "metrics.csv", "step,loss,lr,valid_loss,it_s,elapsed_s\n5,1,1,1,1,1\n\x01garbage,1\n");
  TrainRequest c;
  c.out = dir_ / "damaged";
  c.resume = true;
  c.resume_steps = 12;
  c.progress = false;
  try {
    train_policy(c);
    ADD_FAILURE() << "resumed over a damaged metrics.csv";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("metrics.csv' line 3: "), std::string::npos) << m;
    EXPECT_NE(m.find("is not a step number"), std::string::npos) << m;
  }
}

// A kill between the renames of a checkpoint commit (filesystems without RENAME_EXCHANGE) left no checkpoint/:
// the complete directory is moved back by load and by --resume (which used to advise starting over).
TEST_F(TrainerTest, ResumeRecoversACheckpointLeftBetweenRenames) {
  train_policy(request("regression", "window", 10));
  fs::rename(dir_ / "window" / "checkpoint", dir_ / "window" / ".checkpoint.ready-1-abc");
  EXPECT_NO_THROW(load_policy(dir_ / "window"));
  EXPECT_TRUE(fs::exists(dir_ / "window" / "checkpoint" / "train_state.safetensors"));
  fs::rename(dir_ / "window" / "checkpoint", dir_ / "window" / "checkpoint.old-1-abc");
  TrainRequest c;
  c.out = dir_ / "window";
  c.resume = true;
  c.resume_steps = 12;
  c.progress = false;
  EXPECT_EQ(train_policy(c).steps, 12);
}

// --out naming a directory of someone else's files is refused before anything is written (a metrics.csv there
// used to be replaced); an empty directory, or a run that never reached a checkpoint, is fine to (re)start in.
TEST_F(TrainerTest, ANewRunRefusesADirectoryThatIsNotARun) {
  const fs::path mine = dir_ / "mine";
  fs::create_directories(mine);
  write_file_atomic(mine / "metrics.csv", "my,own\n1,2\n");
  auto r = request("regression", "mine", 2);
  try {
    train_policy(r);
    ADD_FAILURE() << "trained into a directory that is not a run";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("is not an nfp run directory"), std::string::npos) << e.what();
  }
  EXPECT_EQ(read_file(mine / "metrics.csv"), "my,own\n1,2\n");
  EXPECT_FALSE(fs::exists(mine / "train_config.json"));
  fs::create_directories(dir_ / "empty");
  EXPECT_NO_THROW(train_policy(request("regression", "empty", 2)));
}

// 30 steps straight == a 30-step run killed after step 21 (last checkpoint: 20) and resumed: identical
// weights, optimizer state and RNG state, bit for bit (the flow head draws training noise, so the RNG
// state and the loader position must be restored too).
TEST_F(TrainerTest, ResumeIsBitForBit) {
  auto a = request("nina-mlp", "straight", 30);
  train_policy(a);
  auto b = request("nina-mlp", "resumed", 30);
  b.on_step = [](int64_t step, double) {
    if (step == 21) throw std::runtime_error("killed");
  };
  EXPECT_THROW(train_policy(b), std::runtime_error);
  TrainRequest c;
  c.out = dir_ / "resumed";
  c.resume = true;
  c.progress = false;
  auto res = train_policy(c);
  EXPECT_EQ(res.steps, 30);
  auto sa = read_safetensors(dir_ / "straight" / "checkpoint" / "train_state.safetensors");
  auto sb = read_safetensors(dir_ / "resumed" / "checkpoint" / "train_state.safetensors");
  ASSERT_EQ(sa.tensors.size(), sb.tensors.size());
  int differing = 0;
  for (const auto& [k, v] : sa.tensors) {
    const bool same = v.data == sb.tensors.at(k).data;
    differing += !same;
    EXPECT_TRUE(same) << k;
  }
  EXPECT_EQ(differing, 0);
  EXPECT_TRUE(read_file(dir_ / "straight" / "checkpoint" / "model.safetensors") ==
              read_file(dir_ / "resumed" / "checkpoint" / "model.safetensors"));
  EXPECT_EQ(sa.metadata, sb.metadata);
}

// Each head's train defaults (carried by its registry entry) are what the per-head branches gave before.
TEST(TrainDefaults, PerHeadValuesUnchanged) {
  for (const auto& head : head_names()) {
    const TrainConfig c = default_train_config(head), base;
    const bool nina = head == "nina-mlp" || head == "nina-transformer";
    EXPECT_EQ(c.schedule.kind, nina ? "tri-stage" : "cosine") << head;
    EXPECT_EQ(c.lr, nina || head == "nfp-spline" ? 5e-4 : 1e-3) << head;
    EXPECT_EQ(c.adamw.beta2, nina ? 0.95 : 0.999) << head;
    EXPECT_EQ(c.steps, head == "diffusion" || head == "flow-matching" ? 4000 : 3000) << head;
    // and nothing else differs
    json a = c, b = base;
    for (const char* k : {"schedule", "lr", "beta2", "steps"}) a.erase(k), b.erase(k);
    EXPECT_EQ(a, b) << head;
  }
}

TEST_F(TrainerTest, BadRequestsFailClearly) {
  EXPECT_THROW(default_train_config("unet-flow"), Error);
  auto r = request("regression", "bad", 5);
  r.data = (dir_ / "missing.hdf5").string();
  EXPECT_THROW(train_policy(r), Error);
  TrainRequest c;
  c.out = dir_ / "nothing";
  c.resume = true;
  EXPECT_THROW(train_policy(c), Error);
}

// robomimic's masks decide the split when the file has them; --filter / --valid-filter pick others.
TEST_F(TrainerTest, RobomimicMasksDecideTheSplit) {
  auto names = [](const EpisodeStore& st) {
    std::vector<std::string> v;
    for (const auto& e : st.episodes) v.push_back(e.name);
    return v;
  };
  TrainConfig c;
  const std::string masked = (dir_ / "masked.hdf5").string();
  EpisodeSplit s = split_for_training(masked, c);  // auto: mask/train, mask/valid
  EXPECT_EQ(names(s.train), (std::vector<std::string>{"demo_0", "demo_1", "demo_2", "demo_3"}));
  EXPECT_EQ(names(s.valid), (std::vector<std::string>{"demo_4", "demo_5"}));
  EXPECT_EQ(s.filter, "train");
  EXPECT_EQ(s.valid_filter, "valid");
  c.filter = "odd";  // a named training mask; validation still mask/valid
  s = split_for_training(masked, c);
  EXPECT_EQ(names(s.train), (std::vector<std::string>{"demo_1", "demo_3", "demo_5"}));
  c.valid_filter = "fraction";
  c.valid_fraction = 0.34;
  s = split_for_training(masked, c);
  EXPECT_EQ(s.train.episodes.size() + s.valid.episodes.size(), 3u);
  EXPECT_EQ(s.valid.episodes.size(), 1u);
  TrainConfig plain;
  s = split_for_training((dir_ / "demos.hdf5").string(), plain);  // no masks: the seeded 10% split, as before
  EXPECT_EQ(s.filter, "none");
  EXPECT_EQ(s.valid_filter, "fraction");
  EXPECT_EQ(s.train.episodes.size() + s.valid.episodes.size(), 6u);
  plain.filter = "train";  // a mask the file does not have
  EXPECT_THROW(split_for_training((dir_ / "demos.hdf5").string(), plain), Error);
}

TEST_F(TrainerTest, TrainCommandHonoursMasks) {
  if (!test::nfp_available()) GTEST_SKIP() << "nfp binary not built";
  const std::string common = " --policy regression --steps 4 --batch 8 --no-progress --json --out ";
  auto r = test::run_nfp("train --data " + (dir_ / "masked.hdf5").string() + common + (dir_ / "cli_masked").string());
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(test::last_line_json(r.out)["data_split"],
            "training on 4 episodes (mask/train), validating on 2 (mask/valid)");
  const json saved = read_json_file(dir_ / "cli_masked" / "train_config.json");
  EXPECT_EQ(saved["train"]["filter"], "train");  // resolved, so a resumed run reads the same episodes
  EXPECT_EQ(saved["train"]["valid_filter"], "valid");
  r = test::run_nfp("train --data " + (dir_ / "masked.hdf5").string() + " --filter none --valid-filter none" + common +
                    (dir_ / "cli_all").string());
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(test::last_line_json(r.out)["data_split"], "training on 6 episodes (every episode), no validation episodes");
  r = test::run_nfp("train --data " + (dir_ / "masked.hdf5").string() + " --filter nope" + common +
                    (dir_ / "cli_nope").string());
  test::expect_one_line_error(r, "mask/nope");
  EXPECT_FALSE(fs::exists(dir_ / "cli_nope" / "checkpoint"));
}

// LeRobot's checkpoints/<step>/ + last: the newest --keep-checkpoints of them stay, each evaluates, and a run
// resumed from one ends bit for bit where the uninterrupted run ended.
TEST_F(TrainerTest, CheckpointHistoryEvaluatesAndResumes) {
  if (!test::nfp_available()) GTEST_SKIP() << "nfp binary not built";
  const fs::path run = dir_ / "history";
  const std::string common = " --policy regression --batch 8 --checkpoint-every 5 --keep-checkpoints 2 "
                             "--deterministic --no-progress --out " + run.string();
  auto r = test::run_nfp("train --data " + (dir_ / "demos.hdf5").string() + " --steps 20" + common);
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(history_steps(run / "checkpoints"), (std::vector<int64_t>{15, 20}));  // 5 and 10 pruned
  EXPECT_EQ(fs::read_symlink(run / "checkpoints" / "last"), fs::path("20"));
  const std::string last_weights = read_file(run / "checkpoint" / "model.safetensors");
  const std::string last_state = read_file(run / "checkpoint" / "train_state.safetensors");
  EXPECT_EQ(read_file(run / "checkpoints" / "20" / "model.safetensors"), last_weights);
  EXPECT_NE(read_file(run / "checkpoints" / "15" / "model.safetensors"), last_weights);
  r = test::run_nfp("eval --checkpoint " + (run / "checkpoints" / "15").string() + " --episodes 1 --no-progress --out " +
                    (dir_ / "history_eval.json").string());
  EXPECT_EQ(r.status, 0) << r.out;
  r = test::run_nfp("train --resume-from " + (run / "checkpoints" / "15").string() + " --steps 20 --no-progress --out " +
                    run.string());
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(read_file(run / "checkpoint" / "model.safetensors"), last_weights) << "resumed from step 15";
  EXPECT_EQ(read_file(run / "checkpoint" / "train_state.safetensors"), last_state);
  r = test::run_nfp("train --resume-from " + (run / "checkpoints" / "7").string() + " --no-progress --out " + run.string());
  test::expect_one_line_error(r, "not a complete checkpoint");
}

// Files written the way ACT writes them (one HDF5 per episode, qpos + qvel): nfp train reads qpos only, as
// ACT itself does, and says so.
TEST_F(TrainerTest, AnActDirectoryTrainsOnQposAndSaysSo) {
  if (!test::nfp_available()) GTEST_SKIP() << "nfp binary not built";
  const fs::path act = dir_ / "act";
  fs::create_directories(act);
  for (int i = 0; i < 3; ++i) {
    Episode e;
    const int64_t T = 30;
    e.actions.shape = {T, 14};
    e.actions.data.assign(size_t(T) * 14, 0.0f);
    for (const char* key : {"qpos", "qvel"}) {
      e.obs[key].shape = {T, 14};
      for (int64_t k = 0; k < T * 14; ++k) e.obs[key].data.push_back(std::sin(float(k + 7 * i)));
    }
    for (int64_t k = 0; k < T * 14; ++k) e.actions.data[size_t(k)] = std::cos(float(k + i));
    write_act_episode(act / ("episode_" + std::to_string(i) + ".hdf5"), e);
  }
  auto r = test::run_nfp("train --data " + act.string() + " --policy regression --steps 2 --batch 8 --no-progress "
                         "--json --out " + (dir_ / "act_run").string());
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(test::last_line_json(r.out)["obs_keys"], json::array({"qpos"}));
  EXPECT_NE(r.out.find("observations: low-dim qpos (--obs-keys, --cameras choose others)"), std::string::npos) << r.out;
}

// ACT/ALOHA cameras are 480 x 640: `--image-size 96,128 --crop 88,120` trains on 88 x 120 windows of images
// resized once at load, records both in config.json, and has far fewer parameters than at full size (the flatten
// pooling's projection grows with the image); the runner takes the raw 480 x 640 camera image and acts exactly as
// on the image resized beforehand.
TEST_F(TrainerTest, ActImagesAreResizedAndCroppedAndTheRunnerTakesRawOnes) {
  if (!test::nfp_available()) GTEST_SKIP() << "nfp binary not built";
  const fs::path act = dir_ / "act_images";
  fs::create_directories(act);
  const int64_t T = 8, H = 480, W = 640;
  auto camera_frame = [&](int64_t t, int i, uint8_t* px) {  // smooth gradients, different per frame
    for (int64_t y = 0; y < H; ++y)
      for (int64_t x = 0; x < W; ++x)
        for (int c = 0; c < 3; ++c) px[(y * W + x) * 3 + c] = uint8_t((y / 4 + x / 5 + 9 * t + 31 * i + 60 * c) % 256);
  };
  for (int i = 0; i < 3; ++i) {
    Episode e;
    e.actions = {{T, 14}, {}};
    e.obs["qpos"] = {{T, 14}, {}};
    e.obs["qvel"] = {{T, 14}, std::vector<float>(size_t(T) * 14, 0.0f)};
    for (int64_t k = 0; k < T * 14; ++k) {
      e.actions.data.push_back(std::cos(float(k + i)));
      e.obs["qpos"].data.push_back(std::sin(float(k + 7 * i)));
    }
    auto& im = e.images["top"];
    im.shape = {T, H, W, 3};
    im.data.resize(size_t(T * H * W * 3));
    for (int64_t t = 0; t < T; ++t) camera_frame(t, i, im.data.data() + t * H * W * 3);
    write_act_episode(act / ("episode_" + std::to_string(i) + ".hdf5"), e);
  }
  write_file_atomic(dir_ / "act_small.json", R"({"policy": {"encoder_hidden": 32, "context_dim": 32, "horizon": 4,
      "history": 1, "image_encoder": {"conv_channels": 8, "feature_dim": 64}}, "train": {"batch": 4}})");
  const std::string base = "train --data " + act.string() + " --policy regression --obs images,state --config " +
                           (dir_ / "act_small.json").string() + " --no-progress --json";
  auto small = test::run_nfp(base + " --steps 2 --image-size 96,128 --crop 88,120 --out " + (dir_ / "act_small").string());
  ASSERT_EQ(small.status, 0) << small.out;
  auto full = test::run_nfp(base + " --steps 1 --out " + (dir_ / "act_full").string());
  ASSERT_EQ(full.status, 0) << full.out;
  const int64_t p_small = test::last_line_json(small.out)["parameters"], p_full = test::last_line_json(full.out)["parameters"];
  EXPECT_LT(p_small * 5, p_full) << p_small << " vs " << p_full;
  EXPECT_EQ(test::last_line_json(small.out)["obs_keys"], json::array({"qpos"}));
  const json cfg = read_json_file(dir_ / "act_small" / "checkpoint" / "config.json");
  EXPECT_EQ(cfg["image_hw"], json::array({88, 120}));
  EXPECT_EQ(cfg["image_resize"], json::parse(R"({"to": [96, 128], "from": [[480, 640]]})"));
  EXPECT_EQ(cfg["image_crop"], json::parse(R"({"to": [88, 120], "from": [96, 128]})"));

  Policy policy = load_policy(dir_ / "act_small");
  PolicyRunner raw(policy), resized(policy);
  raw.reset(1);
  resized.reset(1);
  for (int64_t t = 0; t < 3; ++t) {
    Observation o;
    o.lowdim["qpos"] = std::vector<float>(14, 0.1f * float(t));
    Image camera{int(H), int(W), std::vector<uint8_t>(size_t(H * W * 3))};
    camera_frame(t, 0, camera.pixels.data());
    o.images["top"] = camera;
    const ActStep a = raw.act(o);
    o.images["top"] = resize_image(camera, {96, 128});
    const ActStep b = resized.act(o);
    ASSERT_EQ(a.action.size(), 14u);
    EXPECT_EQ(a.action, b.action) << t;
  }
}

}  // namespace
}  // namespace nfp
