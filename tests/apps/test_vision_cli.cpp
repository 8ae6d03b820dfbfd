// `nfp collect/train/eval` with image and instruction observations through the real binary: an image policy
// trains, evaluates, and resumes after Ctrl-C bit for bit (random-shift augmentation included); an instruction
// policy evaluates with its instruction replaced, blanked or unknown; nina-transformer reads the instruction's
// tokens and `eval --goal` runs one goal; bad --obs / --cameras / --encoder / --instruction / --goal fail in one
// line and write nothing.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "nfp/atomic_file.hpp"
#include "nfp/json_io.hpp"
#include "nfp/runtime.hpp"
#include "nfp_cli.hpp"

namespace fs = std::filesystem;

namespace nfp {
namespace {

using test::expect_one_line_error;
using test::last_line_json;
using test::run_nfp;

// Small enough to train 100+ image steps in seconds; random shift stays on (its default, 4 px).
constexpr const char* kTinyConfig =
    R"({"policy": {"encoder_hidden": 32, "context_dim": 32, "horizon": 8, "history": 1,
                   "head": {"layers": 2, "hidden": 32},
                   "image_encoder": {"conv_channels": 4, "feature_dim": 8}},
        "train": {"batch": 16, "checkpoint_every": 10, "validate_every": 10, "log_every": 5}})";

class VisionCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = fs::temp_directory_path() / ("nfp_vision_cli_" + std::to_string(::getpid()));
    fs::remove_all(root_);
    fs::create_directories(root_);
    std::ofstream(root_ / "tiny.json") << kTinyConfig;
    collect_images_ = run_nfp("collect --task lift --episodes 3 --seed 0 --cameras top --image-size 24 --out " +
                              p("img.hdf5"));
    collect_multi_ = run_nfp("collect --task multi-task --episodes 4 --seed 0 --out " + p("multi.hdf5"));
  }
  static void TearDownTestSuite() { fs::remove_all(root_); }
  void SetUp() override {
    ASSERT_TRUE(test::nfp_available()) << "the nfp binary is not built (NFP_BIN)";
    ASSERT_EQ(collect_images_.status, 0) << collect_images_.out;
    ASSERT_EQ(collect_multi_.status, 0) << collect_multi_.out;
  }
  static std::string p(const std::string& name) { return (root_ / name).string(); }
  static std::vector<std::string> image_train_args(const std::string& out, int steps) {
    return {"train", "--data", p("img.hdf5"), "--policy", "nfp-spline", "--obs", "images,state", "--cameras", "top",
            "--config", p("tiny.json"), "--steps", std::to_string(steps), "--out", p(out), "--no-progress",
            "--deterministic", "--task", "lift"};
  }
  static std::string joined(const std::vector<std::string>& args) {
    std::string s;
    for (const auto& a : args) s += (s.empty() ? "" : " ") + a;
    return s;
  }
  static fs::path root_;
  static test::NfpRun collect_images_, collect_multi_;
};
fs::path VisionCli::root_;
test::NfpRun VisionCli::collect_images_, VisionCli::collect_multi_;

// The interrupted run must restore every random stream, the image encoder's shift generator among them: with
// a shift stream restarted from its seed the resumed weights differ from the uninterrupted run's.
TEST_F(VisionCli, ImagePolicyTrainsEvaluatesAndResumesBitForBit) {
  const int steps = 120;
  auto a = run_nfp(joined(image_train_args("straight", steps)) + " --json");
  ASSERT_EQ(a.status, 0) << a.out;
  auto cfg = json::parse(read_file(root_ / "straight" / "checkpoint" / "config.json"));
  EXPECT_EQ(cfg["obs"], json::array({"images", "state"}));
  EXPECT_EQ(cfg["cameras"], json::array({"top_image"}));
  EXPECT_EQ(cfg["image_hw"], json::array({24, 24}));

  const fs::path run = root_ / "interrupted";
  ASSERT_EQ(test::train_interrupted_at_first_checkpoint(image_train_args("interrupted", steps), run), 130)
      << "not interrupted (finished before the signal, or failed)";
  auto r = run_nfp("train --out " + run.string() + " --resume --no-progress --json");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(last_line_json(r.out)["steps"], steps);
  for (const char* f : {"model.safetensors", "train_state.safetensors"})
    EXPECT_TRUE(read_file(run / "checkpoint" / f) == read_file(root_ / "straight" / "checkpoint" / f)) << f;

  auto e = run_nfp("eval --checkpoint " + p("straight") + " --episodes 1 --seed 100000 --candidates 4 --strategy sbs" +
                   " --no-progress --out " + p("eval_img.json") + " --json");
  ASSERT_EQ(e.status, 0) << e.out;
  auto g = json::parse(read_file(root_ / "eval_img.json"))["aggregated"];
  EXPECT_TRUE(std::isfinite(g["mean_log_prob"].get<double>()));
  EXPECT_GT(g["chunk_latency_ms_p50"].get<double>(), 0.0);
}

TEST_F(VisionCli, InstructionPolicyEvaluatesWithReplacedBlankAndUnknownInstructions) {
  auto t = run_nfp("train --data " + p("multi.hdf5") + " --policy nfp-spline --obs state,instruction --config " +
                   p("tiny.json") + " --steps 5 --task multi-task --no-progress --out " + p("multi_run"));
  ASSERT_EQ(t.status, 0) << t.out;
  auto cfg = json::parse(read_file(root_ / "multi_run" / "checkpoint" / "config.json"));
  const auto vocab = cfg["instruction_encoder"]["vocabulary"];
  ASSERT_TRUE(vocab.is_array());
  EXPECT_GT(vocab.size(), 3u);  // the words of the recorded instructions (+ special tokens)

  const std::vector<std::string> probes = {"\"\"", "\"put the zebra on the moon\"",
                                           "\"" + std::string(2000, 'a') + " " + std::string(2000, 'b') + "\""};
  for (size_t i = 0; i < probes.size(); ++i) {
    const std::string out = p("eval_multi_" + std::to_string(i) + ".json");
    auto e = run_nfp("eval --checkpoint " + p("multi_run") + " --episodes 1 --seed 100000 --no-progress --instruction " +
                     probes[i] + " --out " + out);
    ASSERT_EQ(e.status, 0) << e.out;
    auto info = json::parse(read_file(out));
    EXPECT_TRUE(info.contains("instruction_override")) << probes[i];
    EXPECT_TRUE(std::isfinite(info["aggregated"]["mean_log_prob"].get<double>())) << probes[i];
  }
}

// On a language-conditioned task `nfp tune` runs every goal on the same seeds and weighs goals equally.
TEST_F(VisionCli, TuneRunsEveryGoalOfALanguageTask) {
  auto t = run_nfp("train --data " + p("multi.hdf5") + " --policy nfp-spline --obs state,instruction --config " +
                   p("tiny.json") + " --steps 3 --task multi-task --no-progress --out " + p("tune_run"));
  ASSERT_EQ(t.status, 0) << t.out;
  auto r = run_nfp("tune --checkpoint " + p("tune_run") + " --sigma 0.3 --episodes 1 --no-progress --out " +
                   p("tune_multi.json"));
  ASSERT_EQ(r.status, 0) << r.out;
  auto tj = json::parse(read_file(root_ / "tune_multi.json"));
  EXPECT_EQ(tj["goals"], 10);
  ASSERT_EQ(tj["cells"].size(), 1u);
  const auto& cell = tj["cells"][0];
  ASSERT_EQ(cell["per_goal"].size(), 10u);
  double mean = 0, worst = 100;
  for (int g = 0; g < 10; ++g) {
    EXPECT_EQ(cell["per_goal"][size_t(g)]["goal"], g);
    EXPECT_EQ(cell["per_goal"][size_t(g)]["episodes"], 1);
    const double s = cell["per_goal"][size_t(g)]["pc_success"];
    mean += s / 10, worst = std::min(worst, s);
  }
  EXPECT_DOUBLE_EQ(cell["pc_success"].get<double>(), mean);
  EXPECT_DOUBLE_EQ(cell["worst_goal_pc_success"].get<double>(), worst);
}

TEST_F(VisionCli, TransformerReadsInstructionTokensAndEvalRunsOneGoal) {
  auto t = run_nfp("train --data " + p("multi.hdf5") + " --policy nina-transformer --obs state,instruction --config " +
                   p("tiny.json") + " --steps 3 --task multi-task --no-progress --out " + p("tokens_run"));
  ASSERT_EQ(t.status, 0) << t.out;
  auto cfg = json::parse(read_file(root_ / "tokens_run" / "checkpoint" / "config.json"));
  EXPECT_TRUE(cfg["instruction_tokens"].get<bool>()) << "nina-transformer's default: the couplings read the words";
  auto e = run_nfp("eval --checkpoint " + p("tokens_run") + " --episodes 2 --goal 3 --no-progress --out " +
                   p("eval_goal3.json"));
  ASSERT_EQ(e.status, 0) << e.out;
  EXPECT_NE(e.out.find("per goal: [3]"), std::string::npos) << e.out;
  auto per_goal = json::parse(read_file(root_ / "eval_goal3.json"))["aggregated"]["per_goal"];
  ASSERT_EQ(per_goal.size(), 1u);
  EXPECT_EQ(per_goal[0]["goal"].get<int>(), 3);
  EXPECT_EQ(per_goal[0]["episodes"].get<int>(), 2);
  expect_one_line_error(run_nfp("eval --checkpoint " + p("tokens_run") + " --episodes 1 --goal 10 --no-progress --out " +
                                p("eval_goal10.json")),
                        "goals 0..9");
  EXPECT_FALSE(fs::exists(root_ / "eval_goal10.json"));
}

TEST_F(VisionCli, BadObservationFlagsFailInOneLineAndWriteNothing) {
  const std::string base = "train --config " + p("tiny.json") + " --steps 2 --no-progress --out " + p("bad");
  expect_one_line_error(run_nfp(base + " --data " + p("img.hdf5") + " --obs state,smell"), "smell");
  expect_one_line_error(run_nfp(base + " --data " + p("img.hdf5") + " --obs images,state --cameras wrist"), "wrist");
  expect_one_line_error(run_nfp(base + " --data " + p("multi.hdf5") + " --obs images,state"), "image");
  expect_one_line_error(run_nfp(base + " --data " + p("img.hdf5") + " --obs images,state --encoder vgg"), "conv");
  expect_one_line_error(
      run_nfp(base + " --data " + p("img.hdf5") + " --obs images,state --encoder torchscript:" + p("missing.pt")),
      "missing.pt");
  expect_one_line_error(run_nfp(base + " --data " + p("img.hdf5") + " --obs instruction"), "state or images");
  EXPECT_FALSE(fs::exists(root_ / "bad"));

  // --instruction probes a policy that reads instructions; on any other it is a mistake, not a no-op
  ASSERT_EQ(run_nfp("train --data " + p("img.hdf5") + " --config " + p("tiny.json") +
                    " --steps 2 --task lift --no-progress --out " + p("state_run"))
                .status,
            0);
  expect_one_line_error(run_nfp("eval --checkpoint " + p("state_run") + " --episodes 1 --instruction \"lift\" --out " +
                                p("e.json") + " --no-progress"),
                        "instruction");
  EXPECT_FALSE(fs::exists(root_ / "e.json"));
}

// --image-size / --crop (Diffusion Policy's random crop): recorded in the checkpoint, the encoder sees the crop,
// the shift is off, eval renders the cameras' recorded size and the runner resizes and crops; a run resumed
// halfway draws the same crops (same weights, bit for bit); bad values fail in one line, exit 2 (usage) or 1
// (against the data), and write nothing.
TEST_F(VisionCli, ResizeAndCropAreRecordedEvaluatedAndResumedExactly) {
  auto args = image_train_args("crop", 20);
  args.insert(args.end(), {"--image-size", "16", "--crop", "12,10"});
  auto r = run_nfp(joined(args) + " --json");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("cameras top_image at 12 x 10 (resized from 24 x 24, cropped from 16 x 16)"), std::string::npos)
      << r.out;
  EXPECT_EQ(last_line_json(r.out)["image_hw"], json::array({12, 10}));
  auto cfg = json::parse(read_file(root_ / "crop" / "checkpoint" / "config.json"));
  EXPECT_EQ(cfg["image_hw"], json::array({12, 10}));
  EXPECT_EQ(cfg["image_resize"], json::parse(R"({"to": [16, 16], "from": [[24, 24]]})"));
  EXPECT_EQ(cfg["image_crop"], json::parse(R"({"to": [12, 10], "from": [16, 16]})"));
  EXPECT_EQ(cfg["image_encoder"]["shift_pad"], 0);
  r = run_nfp("eval --checkpoint " + p("crop") + " --episodes 1 --no-progress --json --out " + p("crop_eval.json"));
  ASSERT_EQ(r.status, 0) << r.out;

  // the runtime runs it too: the file records the cameras' 24 x 24, the resize to 16 x 16 and the 12 x 10 centre
  // crop, and the closed loop runs on it
  r = run_nfp("export --checkpoint " + p("crop") + " --out " + p("crop.nfpr") + " --json");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("top_image 24x24"), std::string::npos) << r.out;
  const auto rt_cfg = json::parse(runtime::Model(p("crop.nfpr")).config_json());
  EXPECT_EQ(rt_cfg["encoder"]["images"]["camera_hw"], json::array({24, 24}));
  EXPECT_EQ(rt_cfg["encoder"]["images"]["resize_hw"], json::array({16, 16}));
  EXPECT_EQ(rt_cfg["encoder"]["images"]["input_hw"], json::array({12, 10}));
  r = run_nfp("eval --model " + p("crop.nfpr") + " --episodes 1 --no-progress --out " + p("crop_rt.json"));
  ASSERT_EQ(r.status, 0) << r.out;

  const std::string straight = read_file(root_ / "crop" / "checkpoint" / "model.safetensors");
  r = run_nfp("train --out " + p("crop") + " --resume-from " + (root_ / "crop" / "checkpoints" / "10").string() +
              " --no-progress");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(read_file(root_ / "crop" / "checkpoint" / "model.safetensors"), straight) << "resumed at step 10";

  const std::string base = "train --data " + p("img.hdf5") + " --config " + p("tiny.json") +
                           " --obs images,state --steps 2 --no-progress --out " + p("bad_crop");
  for (const char* bad : {"--image-size 0", "--image-size 16,x", "--crop -3", "--crop 12,12,12"}) {
    const auto u = run_nfp(base + " " + bad);
    expect_one_line_error(u, "expected H or H,W in pixels");
    EXPECT_EQ(u.status, 2) << bad;
  }
  expect_one_line_error(run_nfp(base + " --crop 25"), "--crop 25 x 25 is larger than the 24 x 24 images of the dataset");
  expect_one_line_error(run_nfp(base + " --image-size 16 --crop 12,17"), "larger than the 16 x 16 images of --image-size");
  expect_one_line_error(run_nfp("train --data " + p("img.hdf5") + " --config " + p("tiny.json") +
                                " --steps 2 --no-progress --image-size 16 --out " + p("bad_crop")),
                        "reads no images");
  EXPECT_FALSE(fs::exists(root_ / "bad_crop"));
}

}  // namespace
}  // namespace nfp
