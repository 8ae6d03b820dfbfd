// `nfp bench suite` and `nfp bench ablations` end to end at toy sizes (a few demos, a few training steps):
// the files they write, resuming, the summary's arithmetic, and clean failures that leave nothing behind.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <sys/file.h>
#include <unistd.h>

#include <chrono>
#include <iterator>
#include <thread>
#include <nlohmann/json.hpp>

#include "nfp_cli.hpp"

namespace fs = std::filesystem;

namespace nfp {
namespace {

using nlohmann::json;
using test::last_line_json;
using test::run_nfp;

class BenchMatrixCli : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(test::nfp_available()) << "the nfp binary is not built (NFP_BIN)";
    dir = fs::temp_directory_path() /
          ("nfp_bench_matrix_" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  void TearDown() override { fs::remove_all(dir); }
  std::string p(const std::string& name) const { return (dir / name).string(); }
  static std::string read(const fs::path& f) {
    std::ifstream in(f);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  fs::path dir;
};

size_t lines(const std::string& s) { return size_t(std::count(s.begin(), s.end(), '\n')); }

TEST_F(BenchMatrixCli, SuiteWritesTablesAndResumes) {
  const std::string args = "bench suite --out " + p("s") + " --demos 3 --steps 5 --episodes 1 --heads regression nina-mlp --json";
  auto r = run_nfp(args);
  ASSERT_EQ(r.status, 0) << r.out;
  const auto j = last_line_json(r.out);
  ASSERT_EQ(j["rows"].size(), 2u);
  EXPECT_EQ(j["rows"][0]["head"], "regression");
  EXPECT_EQ(j["rows"][1]["strategy"], "sbs");  // flow heads are evaluated with SBS
  EXPECT_EQ(j["rows"][1]["train_steps"], 5);
  const auto csv = read(dir / "s" / "results.csv");
  EXPECT_EQ(csv.substr(0, csv.find('\n')),
            "task,head,strategy,success_pc,episodes,params,chunk_p50_ms,chunk_p99_ms,train_steps,train_wall_s,"
            "train_cpu_s,eval_wall_s,demos");
  EXPECT_EQ(lines(csv), 3u);
  EXPECT_NE(read(dir / "s" / "results.md").find("| push-two-goals | nina-mlp | sbs |"), std::string::npos);
  EXPECT_EQ(read(dir / "s" / "latency_vs_success.svg").rfind("<svg", 0), 0u);
  // `nfp report` of the directory: its table, and every cell's run with its evaluation (the whole eval_info.json the
  // suite keeps beside each summary)
  auto rep = run_nfp("report " + p("s") + " --out " + p("s_report") + " --json");
  ASSERT_EQ(rep.status, 0) << rep.out;
  const auto rj = last_line_json(rep.out);
  EXPECT_EQ(rj["benches"], 1);
  EXPECT_EQ(rj["runs"], 2);
  EXPECT_EQ(rj["evals"], 2);
  EXPECT_TRUE(rj["problems"].empty()) << rj.dump();
  // A rerun finds every cell done: same figures, nothing retrained.
  const auto stamp = fs::last_write_time(dir / "s" / "runs" / "push-two-goals" / "nina-mlp" / "cell.json");
  auto again = run_nfp(args);
  ASSERT_EQ(again.status, 0) << again.out;
  EXPECT_EQ(last_line_json(again.out)["rows"], j["rows"]);
  EXPECT_EQ(fs::last_write_time(dir / "s" / "runs" / "push-two-goals" / "nina-mlp" / "cell.json"), stamp);
}

TEST_F(BenchMatrixCli, AblationSummaryMatchesItsRows) {
  auto r = run_nfp("bench ablations --out " + p("a") + " --axes sigma --demos 3 --steps 5 --episodes 1 --eval-seeds 2 --json");
  ASSERT_EQ(r.status, 0) << r.out;
  const auto summary = last_line_json(r.out)["summary"];
  ASSERT_EQ(summary.size(), 4u);  // sigma 0.25, 0.5, 0.75, 1.0
  EXPECT_EQ(summary[0]["value"], "sigma=0.25");
  for (const auto& s : summary) {
    EXPECT_EQ(s["n"], 2);
    EXPECT_LE(s["min"].get<double>(), s["mean"].get<double>());
    EXPECT_GE(s["max"].get<double>(), s["mean"].get<double>());
    // two samples: std = |a - b| / sqrt(2)
    EXPECT_NEAR(s["std"].get<double>(), (s["max"].get<double>() - s["min"].get<double>()) / std::sqrt(2.0), 1e-9);
  }
  const auto csv = read(dir / "a" / "results.csv");
  EXPECT_EQ(lines(csv), 1u + 8u);  // header + 4 values x 2 evaluation blocks
  EXPECT_NE(csv.find(",100000,"), std::string::npos);
  EXPECT_NE(csv.find(",101000,"), std::string::npos);
  EXPECT_EQ(read(dir / "a" / "ablation_sigma.svg").rfind("<svg", 0), 0u);
  // One model served all four sigmas.
  size_t models = 0;
  for (const auto& e : fs::directory_iterator(dir / "a" / "models")) models += e.is_directory();
  EXPECT_EQ(models, 1u);
}

// noise 0.05 and PLU on are both the nina-mlp defaults: the two axes share that model (4 models, not 5).
TEST_F(BenchMatrixCli, AxesShareModelsWithTheSameResolvedSettings) {
  auto r = run_nfp("bench ablations --out " + p("a") + " --axes noise,plu --demos 3 --steps 3 --episodes 1 --eval-seeds 1 --json");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(last_line_json(r.out)["summary"].size(), 5u);
  size_t models = 0;
  for (const auto& e : fs::directory_iterator(dir / "a" / "models")) models += e.is_directory();
  EXPECT_EQ(models, 4u);
}

// Training seeds are separate models (seed 0 and 1 of each setting), each evaluated on every block.
TEST_F(BenchMatrixCli, TrainSeedsTrainSeparateModels) {
  auto r = run_nfp("bench ablations --out " + p("a") + " --axes plu --demos 3 --steps 3 --episodes 1 --eval-seeds 1 "
                   "--train-seeds 2 --json");
  ASSERT_EQ(r.status, 0) << r.out;
  const auto summary = last_line_json(r.out)["summary"];
  ASSERT_EQ(summary.size(), 2u);
  for (const auto& s : summary) EXPECT_EQ(s["n"], 2);  // 2 training seeds x 1 block
  size_t models = 0;
  for (const auto& e : fs::directory_iterator(dir / "a" / "models")) models += e.is_directory();
  EXPECT_EQ(models, 4u);
  const auto csv = read(dir / "a" / "results.csv");
  EXPECT_NE(csv.find("PLU off,nina-mlp,sample,1.00,1,"), std::string::npos) << csv;  // a train_seed 1 row
}

// Data scaling: both heads at every demonstration count, one dataset per count, and the curve with a marker per
// point (the suite's 10 / 25 / 50 / 100 / 200 demos; 2 training steps keep it fast).
TEST_F(BenchMatrixCli, DataAxisTrainsBothHeadsAtEveryCount) {
  auto r = run_nfp("bench ablations --out " + p("a") + " --axes data --steps 2 --episodes 1 --eval-seeds 1 --json");
  ASSERT_EQ(r.status, 0) << r.out;
  const auto summary = last_line_json(r.out)["summary"];
  ASSERT_EQ(summary.size(), 10u);
  const std::vector<double> counts = {10, 25, 50, 100, 200};
  for (size_t i = 0; i < summary.size(); ++i) {
    EXPECT_EQ(summary[i]["head"], i % 2 == 0 ? "nfp-spline" : "diffusion");
    EXPECT_EQ(summary[i]["strategy"], i % 2 == 0 ? "sbs" : "sample");
    EXPECT_DOUBLE_EQ(summary[i]["x"].get<double>(), counts[i / 2]);
  }
  size_t models = 0, datasets = 0;
  for (const auto& e : fs::directory_iterator(dir / "a" / "models")) models += e.is_directory();
  for (const auto& e : fs::directory_iterator(dir / "a" / "data")) datasets += e.path().extension() == ".hdf5";
  EXPECT_EQ(models, 10u);
  EXPECT_EQ(datasets, 5u);
  const auto svg = read(dir / "a" / "data_scaling.svg");
  size_t circles = 0;
  for (size_t i = svg.find("<circle"); i != std::string::npos; i = svg.find("<circle", i + 1)) ++circles;
  EXPECT_EQ(circles, 10u);
  EXPECT_NE(svg.find(">nfp-spline</text>"), std::string::npos);
  EXPECT_NE(svg.find(">diffusion</text>"), std::string::npos);
}

// --base-run serves every nfp-spline variant whose resolved settings are the defaults (stride 1 here): only
// s = 2, 4, 8 are trained.
TEST_F(BenchMatrixCli, BaseRunServesTheDefaultVariant) {
  auto s = run_nfp("bench suite --out " + p("s") + " --demos 3 --steps 3 --episodes 1 --heads nfp-spline");
  ASSERT_EQ(s.status, 0) << s.out;
  auto r = run_nfp("bench ablations --out " + p("a") + " --axes stride --demos 3 --steps 3 --episodes 1 --eval-seeds 1 "
                   "--base-run " + p("s/runs/push-two-goals/nfp-spline") + " --json");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(last_line_json(r.out)["summary"].size(), 4u);
  size_t models = 0;
  for (const auto& e : fs::directory_iterator(dir / "a" / "models")) models += e.is_directory();
  EXPECT_EQ(models, 3u);
  EXPECT_NE(read(dir / "a" / "results.csv").find(p("s/runs/push-two-goals/nfp-spline")), std::string::npos)
      << "the s=1 row names the base run as its model";
}

TEST_F(BenchMatrixCli, BadInputFailsBeforeWritingAnything) {
  auto expect_error = [&](const std::string& args, const std::string& needle) {
    auto r = run_nfp(args);
    EXPECT_NE(r.status, 0) << args;
    EXPECT_NE(r.out.find(needle), std::string::npos) << args << "\n" << r.out;
    EXPECT_LE(lines(r.out), 2u) << r.out;
    EXPECT_FALSE(fs::exists(dir / "x")) << args;
  };
  expect_error("bench suite --profile huge --out " + p("x"), "unknown suite profile 'huge'");
  expect_error("bench suite --out " + p("x") + " --heads nope", "nope");
  expect_error("bench suite --out " + p("x") + " --tasks nowhere", "nowhere");
  expect_error("bench suite --profile quick", "--out");
  expect_error("bench ablations --out " + p("x") + " --axes sigma,colour", "unknown ablation axis 'colour'");
  expect_error("bench ablations --out " + p("x") + " --axes sigma --base-run " + p("no_run"), "no_run");
  expect_error("bench ablations --out " + p("x") + " --episodes 0", "--episodes: must be a whole number from 1");
  expect_error("bench curves --out " + p("x") + " --heads nfp-spline:ddim-10", "DDIM / DDPM sample the diffusion head");
  expect_error("bench curves --out " + p("x") + " --heads regression,regression", "given twice");
  expect_error("bench curves --out " + p("x") + " --task nowhere", "nowhere");
  expect_error("bench curves --out " + p("x") + " --data " + p("none.hdf5"), "none.hdf5");
  expect_error("bench curves --out " + p("x") + " --eval-every 0", "--eval-every: must be a whole number from 1");
}

std::vector<uint8_t> bytes_of(const fs::path& f) {
  std::ifstream in(f, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// `nfp bench curves` at toy size: two curves of one head share its training; training in segments (stop at each
// evaluation point, resume) ends at the very weights of one uninterrupted `nfp train`; a rerun evaluates nothing again.
TEST_F(BenchMatrixCli, CurvesShareTrainingAndSegmentsEqualOneRun) {
  auto c = run_nfp("collect --task push-two-goals --episodes 3 --seed 0 --out " + p("d.hdf5"));
  ASSERT_EQ(c.status, 0) << c.out;
  const std::string args = "bench curves --out " + p("c") + " --task push-two-goals --data " + p("d.hdf5") +
                           " --heads regression,diffusion:ddim-2,diffusion:ddpm-3 --max-steps 4 --eval-every 2 "
                           "--episodes 1 --batch 8 --json";
  auto r = run_nfp(args);
  ASSERT_EQ(r.status, 0) << r.out;
  const auto j = last_line_json(r.out);
  ASSERT_EQ(j["curves"].size(), 3u) << j.dump();
  for (const auto& curve : j["curves"]) {
    ASSERT_EQ(curve["points"].size(), 2u) << curve.dump();
    EXPECT_EQ(curve["points"][0]["step"], 2);
    EXPECT_EQ(curve["points"][1]["step"], 4);
    EXPECT_EQ(curve["points"][1]["samples"], 32);  // 4 steps x batch 8
    EXPECT_GT(curve["points"][1]["train_cpu_s"].get<double>(), curve["points"][0]["train_cpu_s"].get<double>());
  }
  EXPECT_EQ(j["curves"][1]["curve"], "diffusion:ddim-2");
  // one diffusion run, sampled two ways: what each evaluation ran with is in its eval_info.json
  EXPECT_FALSE(fs::exists(dir / "c" / "runs" / "diffusion:ddpm-3"));
  const json ddpm = json::parse(read(dir / "c" / "evals" / "diffusion:ddpm-3" / "4.eval_info.json"));
  EXPECT_EQ(ddpm["inference"]["sampler"], "ddpm");
  EXPECT_EQ(ddpm["inference"]["steps"], 3);
  EXPECT_EQ(json::parse(read(dir / "c" / "evals" / "diffusion:ddim-2" / "2.eval_info.json"))["inference"]["sampler"], "ddim");
  EXPECT_EQ(lines(read(dir / "c" / "results.csv")), 1 + 6u);
  EXPECT_EQ(lines(read(dir / "c" / "summary.csv")), 1 + 3u);
  EXPECT_NE(read(dir / "c" / "results.md").find("| diffusion:ddpm-3 | capped |"), std::string::npos);
  EXPECT_EQ(read(dir / "c" / "success_vs_cpu.svg").rfind("<svg", 0), 0u);
  const std::string svg = read(dir / "c" / "success_vs_steps.svg");
  size_t bands = 0;
  for (size_t i = svg.find("<polygon"); i != std::string::npos; i = svg.find("<polygon", i + 1)) ++bands;
  EXPECT_EQ(bands, 3u);  // an interval band per curve
  // the same weights as one `nfp train` run of 4 steps
  auto t = run_nfp("train --data " + p("d.hdf5") + " --policy regression --task push-two-goals --steps 4 --batch 8 "
                   "--checkpoint-every 2 --no-progress --out " + p("t"));
  ASSERT_EQ(t.status, 0) << t.out;
  EXPECT_EQ(bytes_of(dir / "c" / "runs" / "regression" / "checkpoint" / "model.safetensors"),
            bytes_of(dir / "t" / "checkpoint" / "model.safetensors"));
  // a rerun: nothing trained or evaluated again
  const auto stamp = fs::last_write_time(dir / "c" / "evals" / "regression" / "2.json");
  auto again = run_nfp(args);
  ASSERT_EQ(again.status, 0) << again.out;
  EXPECT_EQ(last_line_json(again.out)["curves"], j["curves"]);
  EXPECT_EQ(fs::last_write_time(dir / "c" / "evals" / "regression" / "2.json"), stamp);
  EXPECT_EQ(again.out.find("trained to step"), std::string::npos) << again.out;
}

// Ctrl-C: the training step under way finishes and is checkpointed with its compute, the command exits 130 and says
// the same command continues; a second run does continue from that checkpoint.
TEST_F(BenchMatrixCli, CurvesCtrlCCheckpointsAndTheSameCommandContinues) {
  auto c = run_nfp("collect --task push-two-goals --episodes 3 --seed 0 --out " + p("d.hdf5"));
  ASSERT_EQ(c.status, 0) << c.out;
  const std::vector<std::string> args = {"bench", "curves", "--out", p("c"), "--task", "push-two-goals", "--data",
                                         p("d.hdf5"), "--heads", "regression", "--max-steps", "1000000",
                                         "--eval-every", "20", "--episodes", "1", "--batch", "4"};
  const pid_t pid = test::spawn_nfp(args, p("log.txt"));
  ASSERT_GT(pid, 0);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (!fs::exists(dir / "c" / "evals" / "regression" / "20.json") && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ::kill(pid, SIGINT);
  int st = 0;
  ASSERT_EQ(::waitpid(pid, &st, 0), pid);
  ASSERT_TRUE(WIFEXITED(st));
  EXPECT_EQ(WEXITSTATUS(st), 130) << read(dir / "log.txt");
  EXPECT_NE(read(dir / "log.txt").find("interrupted; the same command continues where it stopped"), std::string::npos);
  const json compute = json::parse(read(dir / "c" / "runs" / "regression" / "compute.json"));
  int64_t last = 0;
  for (const auto& [step, v] : compute.items()) last = std::max<int64_t>(last, std::stoll(step));
  EXPECT_GE(last, 20);
  EXPECT_GT(compute[std::to_string(last)]["cpu_s"].get<double>(), 0.0);
  // the same command again (stopped once it has trained a segment): it starts from the interrupted step
  const pid_t again = test::spawn_nfp(args, p("log2.txt"));
  ASSERT_GT(again, 0);
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (read(dir / "log2.txt").find("regression: trained to step") == std::string::npos &&
         std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ::kill(again, SIGINT);
  ASSERT_EQ(::waitpid(again, &st, 0), again);
  const std::string log2 = read(dir / "log2.txt");
  const auto at = log2.find("regression: trained to step ");
  ASSERT_NE(at, std::string::npos) << log2;
  const int64_t reached = std::stoll(log2.substr(at + 28));
  EXPECT_GT(reached, last) << log2;
  EXPECT_LE(reached, (last / 20 + 1) * 20) << log2;  // up to the next evaluation point, not from scratch
}

// A head whose evaluations show a plateau is not trained further (here the evaluations are given, as carried from
// another machine without checkpoints: whether a 4-step model succeeds is up to chance); a locked head is left to the
// process holding it.
TEST_F(BenchMatrixCli, CurvesStopAtThePlateauAndSkipALockedHead) {
  auto c = run_nfp("collect --task push-two-goals --episodes 3 --seed 0 --out " + p("d.hdf5"));
  ASSERT_EQ(c.status, 0) << c.out;
  const std::string base = "bench curves --out " + p("c") + " --task push-two-goals --data " + p("d.hdf5") +
                           " --max-steps 20 --eval-every 2 --episodes 1 --batch 8 --plateau-window 1 --json";
  fs::create_directories(dir / "c" / "runs");
  // one success in one episode at steps 2 and 4: window 1 calls it a plateau (no gain beyond 1/1's interval)
  fs::create_directories(dir / "c" / "evals" / "regression");
  for (const char* step : {"2", "4"})
    std::ofstream(dir / "c" / "evals" / "regression" / (std::string(step) + ".json"))
        << R"({"pc_success": 100.0, "episodes": 1, "seed": 100000, "chunk_p50_ms": 0.5})";
  const int fd = ::open((dir / "c" / "runs" / "nina-mlp.lock").c_str(), O_RDWR | O_CREAT, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX | LOCK_NB), 0);
  auto r = run_nfp(base + " --heads regression,nina-mlp");
  ::close(fd);
  ASSERT_EQ(r.status, 0) << r.out;
  const auto j = last_line_json(r.out);
  ASSERT_EQ(j["curves"].size(), 1u) << j.dump();
  EXPECT_EQ(j["curves"][0]["status"], "plateau");
  EXPECT_EQ(j["curves"][0]["points"].size(), 2u);
  EXPECT_NE(r.out.find("regression: plateaued at step 4"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("trained to step"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(dir / "c" / "runs" / "regression" / "checkpoint"));
  EXPECT_NE(r.out.find("nina-mlp: another process is training it"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(dir / "c" / "runs" / "nina-mlp"));
  EXPECT_EQ(read(dir / "c" / "success_vs_steps.svg").rfind("<svg", 0), 0u);  // no compute yet: the CPU chart still draws
}

}  // namespace
}  // namespace nfp
