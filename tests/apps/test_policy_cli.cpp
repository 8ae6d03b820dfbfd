// `nfp collect` -> `nfp train` -> `nfp eval` end to end through the real binary, on a tiny push-two-goals
// dataset and a tiny policy: the files each command writes, the --json results, Ctrl-C during training followed
// by --resume (bit-for-bit equal to an uninterrupted run), and bad input that fails in one line and writes nothing.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "nfp/atomic_file.hpp"
#include "nfp/json_io.hpp"
#include "demo_data_suite.hpp"
#include "nfp_cli.hpp"

namespace fs = std::filesystem;

namespace nfp {
namespace {

using test::expect_one_line_error;
using test::last_line_json;
using test::run_nfp;

class PolicyCli : public test::DemoDataSuite<PolicyCli> {
 public:
  static constexpr const char* kFolder = "nfp_policy_cli_";

 protected:
  // A monitor calibration of `score` as `nfp monitor calibrate` writes it, with the run's own sampling settings and a
  // band every chunk crosses at once (mean -100, quantile 2).
  static void write_calibration(const std::string& run, const std::string& score) {
    const auto cfg = read_json_file(root_ / run / "checkpoint" / "config.json");
    json c = {{"score", score}, {"alpha", 0.05}, {"mean", {-100.0}}, {"scale", {1.0}}, {"quantile", 2.0},
              {"episodes", 50}, {"successes", 40}, {"fit_episodes", 20}, {"quantile_episodes", 20}, {"seed", 300000},
              {"task", "push-two-goals"}, {"inference", cfg["inference"]}, {"n_action_steps", cfg["n_action_steps"]}};
    std::ofstream(root_ / run / "checkpoint" / "monitor.json") << c.dump();
  }
  static std::string train_args(const std::string& head, const std::string& out, int steps) {
    return "train --data " + p("d.hdf5") + " --policy " + head + " --config " + p("tiny.json") + " --steps " +
           std::to_string(steps) + " --out " + p(out) + " --no-progress";
  }
};

TEST_F(PolicyCli, TrainThenEvalWritesTheRunAndLeRobotEvalInfo) {
  auto t = run_nfp(train_args("nfp-spline", "run", 20) + " --stride 2 --task push-two-goals --json");
  ASSERT_EQ(t.status, 0) << t.out;
  auto tj = last_line_json(t.out);
  EXPECT_EQ(tj["steps"], 20);
  EXPECT_GT(tj["parameters"].get<int64_t>(), 1000);
  EXPECT_TRUE(std::isfinite(tj["train_loss"].get<double>()));
  for (const char* f : {"checkpoint/config.json", "checkpoint/model.safetensors", "checkpoint/stats.json",
                        "checkpoint/train_state.safetensors", "metrics.csv", "train_config.json"})
    EXPECT_TRUE(fs::is_regular_file(root_ / "run" / f)) << f;
  // the resolved config records the flag and the type
  auto cfg = json::parse(read_file(root_ / "run" / "checkpoint" / "config.json"));
  EXPECT_EQ(cfg["type"], "nfp-spline");
  EXPECT_EQ(cfg["stride"], 2);
  // metrics.csv: a header and a row every 5 steps
  std::ifstream m(root_ / "run" / "metrics.csv");
  int rows = 0;
  for (std::string line; std::getline(m, line);) rows++;
  EXPECT_EQ(rows, 1 + 20 / 5);

  auto e = run_nfp("eval --checkpoint " + p("run") + " --episodes 3 --seed 100000 --strategy sbs --candidates 8 --video " +
                   p("videos") + " --video-episodes 2 --out " + p("eval_info.json") + " --no-progress --json");
  ASSERT_EQ(e.status, 0) << e.out;
  auto info = json::parse(read_file(root_ / "eval_info.json"));
  ASSERT_EQ(info["per_episode"].size(), 3u);
  EXPECT_EQ(info["per_episode"][1]["seed"], 100001);
  EXPECT_EQ(info["task"], "push-two-goals");  // recorded at training, used when --task is absent
  const auto& g = info["aggregated"];
  for (const char* k : {"pc_success", "avg_sum_reward", "avg_max_reward", "eval_s", "eval_ep_s",
                        "chunk_latency_ms_p50", "chunk_latency_ms_p99", "mean_log_prob"})
    EXPECT_TRUE(g.contains(k)) << k;
  EXPECT_GE(g["pc_success"].get<double>(), 0.0);
  EXPECT_LE(g["pc_success"].get<double>(), 100.0);
  EXPECT_TRUE(std::isfinite(g["mean_log_prob"].get<double>()));  // a flow head reports its likelihood
  EXPECT_LE(g["chunk_latency_ms_p50"].get<double>(), g["chunk_latency_ms_p99"].get<double>());
  EXPECT_EQ(last_line_json(e.out)["aggregated"], g);
  // one MP4 per recorded episode (--video-episodes 2 of 3; ISO base media: bytes 4..7 are 'ftyp'), listed in
  // video_paths as LeRobot does
  ASSERT_EQ(info["video_paths"].size(), 2u);
  EXPECT_FALSE(fs::exists(root_ / "videos" / "episode_2.mp4"));
  int i = 0;
  for (const char* v : {"episode_0.mp4", "episode_1.mp4"}) {
    EXPECT_EQ(fs::path(info["video_paths"][i++].get<std::string>()), root_ / "videos" / v);
    auto bytes = read_file(root_ / "videos" / v);
    ASSERT_GT(bytes.size(), 1000u) << v;
    EXPECT_EQ(std::string(bytes.begin() + 4, bytes.begin() + 8), "ftyp") << v;
  }
}

// Ctrl-C mid-run: the step in progress finishes, is checkpointed, the exit status is 130; --resume then ends
// with exactly the weights, optimizer state and RNG of a run that was never interrupted.
TEST_F(PolicyCli, InterruptedTrainingResumesBitForBit) {
  const int steps = 150;
  auto a = run_nfp(train_args("nina-mlp", "straight", steps) + " --deterministic");
  ASSERT_EQ(a.status, 0) << a.out;

  const fs::path run = root_ / "interrupted";
  ASSERT_EQ(test::train_interrupted_at_first_checkpoint(
                {"train", "--data", p("d.hdf5"), "--policy", "nina-mlp", "--config", p("tiny.json"), "--steps",
                 std::to_string(steps), "--out", run.string(), "--no-progress", "--deterministic"},
                run),
            130)
      << "not interrupted (finished before the signal, or failed)";
  auto partial = read_file(run / "checkpoint" / "model.safetensors");
  EXPECT_NE(partial, read_file(root_ / "straight" / "checkpoint" / "model.safetensors"));

  auto r = run_nfp("train --out " + run.string() + " --resume --no-progress --json");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(last_line_json(r.out)["steps"], steps);
  for (const char* f : {"model.safetensors", "train_state.safetensors"})
    EXPECT_TRUE(read_file(run / "checkpoint" / f) == read_file(root_ / "straight" / "checkpoint" / f)) << f;
  // Resuming a finished run trains nothing, says so, and leaves the checkpoint as it was (a re-run script's case).
  r = run_nfp("train --out " + run.string() + " --resume --no-progress --json");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("nothing to train"), std::string::npos) << r.out;
  EXPECT_EQ(last_line_json(r.out)["steps_run"], 0);
  EXPECT_TRUE(read_file(run / "checkpoint" / "model.safetensors") ==
              read_file(root_ / "straight" / "checkpoint" / "model.safetensors"));
}

// `nfp serve` + `nfp eval --server`: the closed loop through the WebSocket server acts bit-identically to the
// in-process evaluation on the same seeds; SIGTERM stops the server cleanly (exit 0, statistics printed).
// Starts `nfp serve ARGS --port 0` logging to `log`; returns its pid and url ("" if it reported no port in 30 s).
std::pair<pid_t, std::string> start_server(std::vector<std::string> args, const std::string& log) {
  args.insert(args.begin(), "serve");
  args.insert(args.end(), {"--port", "0"});
  const pid_t server = test::spawn_nfp(args, log);
  std::string url;
  for (int i = 0; i < 600 && url.empty() && server > 0; ++i) {  // the port is printed once it listens
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    std::ifstream in(log);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto at = text.find("ws://127.0.0.1:");
    const auto end = at == std::string::npos ? at : text.find(' ', at);
    if (end != std::string::npos) url = text.substr(at, end - at);
  }
  return {server, url};
}

// Stops a server with SIGTERM; true for a clean exit (status 0).
bool stop_server(pid_t server) {
  ::kill(server, SIGTERM);
  int status = 0;
  ::waitpid(server, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

// The per-episode action digests and successes of an eval_info.json must agree.
void expect_same_episodes(const std::string& a_path, const std::string& b_path, size_t episodes) {
  const auto a = read_json_file(a_path), b = read_json_file(b_path);
  for (size_t e = 0; e < episodes; ++e) {
    EXPECT_EQ(a["per_episode"][e]["actions_fnv1a"], b["per_episode"][e]["actions_fnv1a"]) << a_path << " episode " << e;
    EXPECT_EQ(a["per_episode"][e]["success"], b["per_episode"][e]["success"]);
  }
}

TEST_F(PolicyCli, EvalThroughTheServerEqualsInProcessEval) {
  ASSERT_EQ(run_nfp(train_args("nfp-spline", "served", 5) + " --task push-two-goals").status, 0);
  const std::string log = p("serve.log");
  const auto [server, url] = start_server({"--checkpoint", p("served"), "--strategy", "sbs", "--candidates", "4"}, log);
  ASSERT_GT(server, 0);
  ASSERT_FALSE(url.empty()) << "nfp serve did not report its port";
  auto remote = run_nfp("eval --server " + url + " --episodes 3 --seed 100000 --no-progress --out " + p("remote.json"));
  ASSERT_EQ(remote.status, 0) << remote.out;
  auto local = run_nfp("eval --checkpoint " + p("served") + " --strategy sbs --candidates 4 --episodes 3 --seed 100000 "
                       "--no-progress --out " + p("local.json"));
  ASSERT_EQ(local.status, 0) << local.out;
  expect_same_episodes(p("remote.json"), p("local.json"), 3);
  const auto r = read_json_file(p("remote.json"));
  EXPECT_EQ(r["server"], url);
  EXPECT_EQ(r["inference"]["strategy"], "sbs");
  test::expect_one_line_error(run_nfp("eval --server " + url + " --sigma 0.5 --out " + p("x.json")), "--server");
  EXPECT_TRUE(stop_server(server)) << "SIGTERM: a clean exit";
  std::ifstream in(log);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("served "), std::string::npos) << text;
  test::expect_one_line_error(run_nfp("eval --server ws://127.0.0.1:1 --episodes 1 --out " + p("y.json")),
                              "cannot connect");
  test::expect_one_line_error(run_nfp("serve --checkpoint " + p("missing")), "missing");
  std::ofstream(root_ / "keys.json") << R"({"observation/state": ["state", "nope"]})";
  test::expect_one_line_error(run_nfp("serve --checkpoint " + p("served") + " --keymap " + p("keys.json")), "'nope'");
  test::expect_one_line_error(run_nfp("serve --checkpoint " + p("served") + " --host example.org"), "not an IP address");
  EXPECT_EQ(run_nfp("serve --checkpoint " + p("served") + " --port 70000").status, 2);
}

// The runtime backend is one closed loop whichever way it is reached: `nfp eval --backend runtime` (the checkpoint
// exported on the fly), `nfp eval --model FILE.nfpr` and `nfp serve --model` + `nfp eval --server` act
// bit-identically on the same seeds.
TEST_F(PolicyCli, RuntimeBackendEvalAndServeAreOneLoop) {
  ASSERT_EQ(run_nfp(train_args("nfp-spline", "rt", 5) + " --task push-two-goals").status, 0);
  ASSERT_EQ(run_nfp("export --checkpoint " + p("rt") + " --out " + p("rt.nfpr")).status, 0);
  const std::string sbs = " --strategy sbs --candidates 4 --episodes 3 --seed 100000 --no-progress --out ";
  auto onfly = run_nfp("eval --checkpoint " + p("rt") + " --backend runtime" + sbs + p("rt_onfly.json"));
  ASSERT_EQ(onfly.status, 0) << onfly.out;
  EXPECT_NE(onfly.out.find("(runtime, "), std::string::npos) << onfly.out;
  auto file = run_nfp("eval --model " + p("rt.nfpr") + sbs + p("rt_file.json"));
  ASSERT_EQ(file.status, 0) << file.out;
  expect_same_episodes(p("rt_onfly.json"), p("rt_file.json"), 3);
  const auto info = read_json_file(p("rt_file.json"));
  EXPECT_EQ(info["backend"], "runtime");
  EXPECT_EQ(info["runtime"]["weights"], "f32");
  EXPECT_GT(info["aggregated"]["chunk_latency_ms_p50"].get<double>(), 0.0);

  const auto [server, url] = start_server({"--model", p("rt.nfpr"), "--strategy", "sbs", "--candidates", "4"},
                                          p("serve_rt.log"));
  ASSERT_GT(server, 0);
  ASSERT_FALSE(url.empty()) << "nfp serve --model did not report its port";
  auto remote = run_nfp("eval --server " + url + " --episodes 3 --seed 100000 --no-progress --out " + p("rt_remote.json"));
  ASSERT_EQ(remote.status, 0) << remote.out;
  expect_same_episodes(p("rt_remote.json"), p("rt_file.json"), 3);
  EXPECT_TRUE(stop_server(server));

  // What the runtime cannot do, said in one line: denoise needs libtorch's autograd; --weights is the runtime's.
  test::expect_one_line_error(run_nfp("eval --model " + p("rt.nfpr") + " --strategy denoise --out " + p("x.json")),
                              "the runtime runs sample, sbs and gr");
  test::expect_one_line_error(run_nfp("eval --checkpoint " + p("rt") + " --weights int8 --out " + p("x.json")),
                              "--weights applies to the runtime backend");
  EXPECT_EQ(run_nfp("serve --model " + p("missing.nfpr")).status, 2);
  EXPECT_FALSE(fs::exists(root_ / "x.json"));
}

// `nfp monitor calibrate` writes the checkpoint's monitor.json; `nfp eval --monitor` reports each episode's alarm,
// alarm step and score traces and the detection metrics, under a perturbation too; mismatched settings, a missing
// calibration and unknown perturbations fail in one line.
TEST_F(PolicyCli, MonitorCalibratesAndEvalReportsAlarms) {
  ASSERT_EQ(run_nfp(train_args("nfp-spline", "mon", 5) + " --task push-two-goals").status, 0);
  test::expect_one_line_error(run_nfp("eval --checkpoint " + p("mon") + " --monitor --episodes 2 --out " + p("m0.json")),
                              "nfp monitor calibrate");
  // A 5-step policy hardly ever succeeds: calibration needs successful episodes, says so, and writes nothing.
  test::expect_one_line_error(run_nfp("monitor calibrate --checkpoint " + p("mon") + " --episodes 4 --seed 300000 "
                                      "--no-progress"),
                              "successful episodes");
  ASSERT_FALSE(fs::exists(root_ / "mon" / "checkpoint" / "monitor.json"));
  // A calibration as the command writes it (this policy's settings, a band its scores cross at once).
  write_calibration("mon", "neg_logp");
  auto ev = run_nfp("eval --checkpoint " + p("mon") + " --monitor --episodes 3 --seed 400000 --perturb object_shift "
                    "--perturb-at 2 --perturb-magnitude 0.05 --no-progress --out " + p("m1.json"));
  ASSERT_EQ(ev.status, 0) << ev.out;
  EXPECT_NE(ev.out.find("monitor (neg_logp"), std::string::npos) << ev.out;
  const auto info = read_json_file(p("m1.json"));
  for (const auto& e : info["per_episode"]) {
    EXPECT_TRUE(e.contains("alarm") && e.contains("alarm_step") && e.contains("max_score")) << e.dump();
    EXPECT_EQ(e["scores"]["neg_logp"].size(), e["chunk_steps"].size());
    EXPECT_GT(e["scores"]["neg_logp"].size(), 0u);
    // The continuation score: none at the first chunk, a number at every later one.
    const auto& cont = e["scores"]["continuation"];
    ASSERT_EQ(cont.size(), e["chunk_steps"].size());
    EXPECT_TRUE(cont[0].is_null());
    for (size_t k = 1; k < cont.size(); ++k) EXPECT_TRUE(cont[k].is_number()) << k;
  }
  EXPECT_EQ(info["aggregated"]["perturbation"]["kind"], "object_shift");
  for (const auto& e : info["per_episode"]) EXPECT_EQ(e["alarm_chunk"], 0) << "every score is far above the band";
  EXPECT_EQ(info["aggregated"]["monitor"]["failures"].get<int64_t>() + info["aggregated"]["monitor"]["successes"].get<int64_t>(), 3);
  test::expect_one_line_error(run_nfp("eval --checkpoint " + p("mon") + " --monitor --sigma 0.1 --episodes 1 --out " +
                                      p("m2.json")),
                              "recalibrate");
  // A dropped sensor frame (every value NaN from step 1): refused in one line by default; with --hold-on-nonfinite
  // the last action is held, counted, and the monitor alarms at that step — on libtorch and on the runtime alike.
  const std::string dropout = " --episodes 2 --seed 400000 --perturb sensor_dropout --perturb-at 1 --perturb-magnitude 1 "
                              "--no-progress --out ";
  test::expect_one_line_error(run_nfp("eval --checkpoint " + p("mon") + dropout + p("m4.json")), "contains NaN or Inf");
  EXPECT_FALSE(fs::exists(root_ / "m4.json"));
  for (const char* backend : {"torch", "runtime"}) {
    auto held = run_nfp("eval --checkpoint " + p("mon") + " --backend " + backend + " --monitor --hold-on-nonfinite" +
                        dropout + p("m5.json"));
    ASSERT_EQ(held.status, 0) << held.out;
    const json info = read_json_file(p("m5.json"));  // not a temporary: the loop would walk freed memory (ASan)
    for (const auto& e : info["per_episode"]) {
      EXPECT_EQ(e["first_held_step"], 1) << backend;
      EXPECT_EQ(e["held_steps"], e["steps"].get<int64_t>() - 1) << backend;
      EXPECT_EQ(e["alarm"], true) << backend;
      EXPECT_LE(e["alarm_step"].get<int64_t>(), 1) << backend;
    }
  }
  EXPECT_EQ(run_nfp("eval --checkpoint " + p("mon") + " --perturb gravity --out " + p("m3.json")).status, 2);
  test::expect_one_line_error(run_nfp("monitor calibrate --checkpoint " + p("mon") + " --score spread --episodes 4"),
                              "--strategy sbs");
  EXPECT_FALSE(fs::exists(root_ / "m2.json"));
}

// `nfp monitor fit` gives any head, likelihood or not, the observation-side score: a flow over the run's embeddings
// of its training windows, saved into the checkpoint; `nfp eval --monitor` with an embedding calibration scores
// every chunk with it. What cannot work fails in one line.
TEST_F(PolicyCli, MonitorFitGivesEveryHeadAnEmbeddingScore) {
  ASSERT_EQ(run_nfp(train_args("regression", "regemb", 5) + " --task push-two-goals").status, 0);
  test::expect_one_line_error(run_nfp("monitor calibrate --checkpoint " + p("regemb") + " --episodes 4"),
                              "--score embedding");
  test::expect_one_line_error(run_nfp("monitor calibrate --checkpoint " + p("regemb") + " --score embedding --episodes 4"),
                              "nfp monitor fit");
  test::expect_one_line_error(run_nfp("monitor fit --checkpoint " + p("nowhere")), "not a run directory");
  test::expect_one_line_error(run_nfp("monitor fit --checkpoint " + p("regemb") + " --data " + p("none.hdf5")), "--data");
  auto fit = run_nfp("monitor fit --checkpoint " + p("regemb") + " --steps 40 --windows 100 --no-progress --json");
  ASSERT_EQ(fit.status, 0) << fit.out;
  const auto fj = last_line_json(fit.out);
  EXPECT_EQ(fj["dim"], 32);
  EXPECT_EQ(fj["windows"], 100);
  EXPECT_GT(fj["valid_windows"].get<int64_t>(), 0);
  EXPECT_TRUE(std::isfinite(fj["valid_score"].get<double>()));
  EXPECT_TRUE(fs::exists(root_ / "regemb" / "checkpoint" / "monitor_embedding" / "model.safetensors"));
  // A calibration of the embedding score whose band every chunk crosses: each episode alarms at its first chunk.
  write_calibration("regemb", "embedding");
  auto ev = run_nfp("eval --checkpoint " + p("regemb") + " --monitor --episodes 2 --seed 400000 --no-progress --out " +
                    p("r1.json"));
  ASSERT_EQ(ev.status, 0) << ev.out;
  EXPECT_NE(ev.out.find("monitor (embedding"), std::string::npos) << ev.out;
  const json r1 = read_json_file(p("r1.json"));
  for (const auto& e : r1["per_episode"]) {
    ASSERT_EQ(e["scores"]["embedding"].size(), e["chunk_steps"].size());
    for (const auto& v : e["scores"]["embedding"]) EXPECT_TRUE(v.is_number()) << e.dump();
    for (const auto& v : e["scores"]["neg_logp"]) EXPECT_TRUE(v.is_null()) << "regression has no likelihood";
    EXPECT_EQ(e["alarm_chunk"], 0);
  }
  // The server scores neg_logp only: another calibration is refused before it listens.
  test::expect_one_line_error(run_nfp("serve --checkpoint " + p("regemb") + " --monitor --port 0"), "--score neg_logp");
}

TEST_F(PolicyCli, BadInputFailsInOneLineAndWritesNothing) {
  expect_one_line_error(run_nfp("train --data " + p("missing.hdf5") + " --out " + p("r1")), "missing.hdf5");
  expect_one_line_error(run_nfp("train --data " + p("d.hdf5") + " --policy nope --out " + p("r1")), "nfp-spline");
  std::ofstream(root_ / "typo.json") << R"({"train": {"stepz": 3}})";
  expect_one_line_error(run_nfp("train --data " + p("d.hdf5") + " --config " + p("typo.json") + " --out " + p("r1")), "stepz");
  expect_one_line_error(run_nfp("train --out " + p("r1") + " --resume"), "no complete checkpoint");
  EXPECT_FALSE(fs::exists(root_ / "r1"));

  // an existing run is never overwritten by a new one
  ASSERT_EQ(run_nfp(train_args("regression", "reg", 5)).status, 0);
  const auto before = read_file(root_ / "reg" / "checkpoint" / "model.safetensors");
  expect_one_line_error(run_nfp(train_args("regression", "reg", 5)), "--resume");
  EXPECT_TRUE(read_file(root_ / "reg" / "checkpoint" / "model.safetensors") == before);
  // nor is a directory of other files (a metrics.csv there used to be replaced)
  fs::create_directories(root_ / "notes");
  std::ofstream(root_ / "notes" / "metrics.csv") << "mine\n";
  expect_one_line_error(run_nfp(train_args("regression", "notes", 5)), "is not an nfp run directory");
  EXPECT_EQ(read_file(root_ / "notes" / "metrics.csv"), "mine\n");
  // nor an existing dataset by `nfp collect` (without --force: exit 2 before any simulation)
  const auto data_before = read_file(root_ / "d.hdf5");
  auto c = run_nfp("collect --task push-two-goals --episodes 1 --out " + p("d.hdf5"));
  EXPECT_EQ(c.status, 2) << c.out;
  expect_one_line_error(c, "already exists; pass --force to replace it");
  EXPECT_TRUE(read_file(root_ / "d.hdf5") == data_before);

  const std::string out = " --out " + p("e.json") + " --episodes 1 --no-progress";
  expect_one_line_error(run_nfp("eval --checkpoint " + p("nope") + out), "nope");
  expect_one_line_error(run_nfp("eval --checkpoint " + p("reg") + " --task nope" + out), "push-two-goals");
  expect_one_line_error(run_nfp("eval --checkpoint " + p("reg") + " --task push-two-goals --strategy nope" + out), "sbs");
  // likelihood strategies need a flow head
  expect_one_line_error(run_nfp("eval --checkpoint " + p("reg") + " --task push-two-goals --strategy sbs" + out), "flow");
  EXPECT_FALSE(fs::exists(root_ / "e.json"));
}

// --device cpu is today's path, bit for bit (training and evaluation); --device cuda on this CPU-only libtorch
// says what to do in one line, exits 1 and writes nothing, on every command that takes it; a malformed device
// is a usage error (exit 2).
TEST_F(PolicyCli, DeviceCpuIsBitIdenticalAndCudaFailsClearly) {
  ASSERT_EQ(run_nfp(train_args("nfp-spline", "dev_plain", 20) + " --deterministic --task push-two-goals").status, 0);
  auto r = run_nfp(train_args("nfp-spline", "dev_cpu", 20) + " --deterministic --task push-two-goals --device cpu");
  ASSERT_EQ(r.status, 0) << r.out;
  for (const char* f : {"model.safetensors", "train_state.safetensors"})
    EXPECT_TRUE(read_file(root_ / "dev_plain" / "checkpoint" / f) == read_file(root_ / "dev_cpu" / "checkpoint" / f)) << f;
  const std::string eval = "eval --checkpoint " + p("dev_plain") + " --episodes 2 --strategy sbs --candidates 8 --no-progress";
  ASSERT_EQ(run_nfp(eval + " --out " + p("dev_plain.json")).status, 0);
  r = run_nfp(eval + " --device cpu --out " + p("dev_cpu.json"));
  ASSERT_EQ(r.status, 0) << r.out;
  const json a = json::parse(read_file(root_ / "dev_plain.json")), b = json::parse(read_file(root_ / "dev_cpu.json"));
  ASSERT_EQ(a["per_episode"].size(), 2u);
  EXPECT_EQ(a["per_episode"], b["per_episode"]);  // the same actions (fnv1a of every action), rewards and steps

  const std::string cuda_error =
      "nfp: error: --device cuda: this nfp was built against a CPU-only libtorch; rebuild against CUDA libtorch "
      "(README, GPUs)";
  r = run_nfp(train_args("nfp-spline", "dev_cuda", 5) + " --device cuda");
  if (r.status == 0) GTEST_SKIP() << "this nfp was built against a CUDA libtorch and has a GPU";
  expect_one_line_error(r, cuda_error);
  EXPECT_EQ(r.status, 1);
  EXPECT_FALSE(fs::exists(root_ / "dev_cuda"));
  const std::vector<std::string> commands = {
      "eval --checkpoint " + p("dev_plain") + " --episodes 1 --out " + p("dev_cuda.json"),
      "tune --checkpoint " + p("dev_plain") + " --episodes 1 --out " + p("dev_cuda.json"),
      "serve --checkpoint " + p("dev_plain") + " --port 0",
      "bench latency --seconds 0.01 --min-calls 1 --json", "bench suite --profile quick --out " + p("dev_cuda"),
      "bench ablations --out " + p("dev_cuda")};
  for (const std::string& cmd : commands) {
    r = run_nfp(cmd + " --device cuda");
    expect_one_line_error(r, cuda_error);
    EXPECT_EQ(r.status, 1) << cmd;
  }
  EXPECT_FALSE(fs::exists(root_ / "dev_cuda.json"));
  EXPECT_FALSE(fs::exists(root_ / "dev_cuda"));
  for (const char* bad : {"bogus", "cuda:x", "gpu", "cuda:", "CPU"}) {
    r = run_nfp(train_args("nfp-spline", "dev_bad", 5) + " --device " + bad);
    expect_one_line_error(r, std::string("--device: expected cpu, cuda or cuda:N (N a GPU index), got '") + bad + "'");
    EXPECT_EQ(r.status, 2) << bad;
  }
  EXPECT_EQ(run_nfp(eval + " --device bogus --out " + p("dev_bad.json")).status, 2);
  EXPECT_FALSE(fs::exists(root_ / "dev_bad"));
  EXPECT_FALSE(fs::exists(root_ / "dev_bad.json"));
}

// `nfp tune` writes every setting's success; only --apply touches the checkpoint, and only its config.json.
TEST_F(PolicyCli, TuneWritesEverySettingAndApplyChangesOnlyTheConfig) {
  ASSERT_EQ(run_nfp(train_args("nfp-spline", "tuned", 5) + " --task push-two-goals").status, 0);
  const fs::path ck = root_ / "tuned" / "checkpoint";
  const auto config = read_file(ck / "config.json"), weights = read_file(ck / "model.safetensors");
  const std::string grid = "tune --checkpoint " + p("tuned") +
                           " --strategy sbs --candidates 4 --sigma 0.2,0.4 --n-action-steps 1,2 --episodes 1 --no-progress";
  auto t = run_nfp(grid + " --out " + p("tune.json") + " --json");
  ASSERT_EQ(t.status, 0) << t.out;
  EXPECT_NE(t.out.find("[4/4] sbs, sigma 0.4, N 4, n_action_steps 2"), std::string::npos) << t.out;
  auto r = json::parse(read_file(root_ / "tune.json"));
  EXPECT_EQ(r, last_line_json(t.out));
  ASSERT_EQ(r["cells"].size(), 4u);
  EXPECT_FALSE(r["applied"].get<bool>());
  EXPECT_TRUE(read_file(ck / "config.json") == config) << "without --apply the checkpoint is untouched";

  auto a = run_nfp(grid + " --out " + p("tune_applied.json") + " --apply");
  ASSERT_EQ(a.status, 0) << a.out;
  const auto best = json::parse(read_file(root_ / "tune_applied.json"));
  const auto& cell = best["cells"][best["best"].get<size_t>()];
  auto cfg = json::parse(read_file(ck / "config.json"));
  EXPECT_EQ(cfg["inference"]["strategy"], "sbs");
  EXPECT_EQ(cfg["inference"]["sigma"], cell["sigma"]);
  EXPECT_EQ(cfg["inference"]["candidates"], 4);
  EXPECT_EQ(cfg["n_action_steps"], cell["n_action_steps"]);
  EXPECT_TRUE(read_file(ck / "model.safetensors") == weights);

  // a bad grid fails before any episode and writes nothing
  const auto applied = read_file(ck / "config.json");
  const std::string bad = "tune --checkpoint " + p("tuned") + " --episodes 1 --no-progress --apply --out " + p("bad.json");
  expect_one_line_error(run_nfp(bad + " --sigma 0.3,-1"), "--sigma: must be a finite number >= 0");
  expect_one_line_error(run_nfp(bad + " --n-action-steps 99"), "n_action_steps must be in 1..8");
  expect_one_line_error(run_nfp(bad + " --strategy best"), "unknown strategy 'best'");
  expect_one_line_error(run_nfp(bad + " --sigma abc"), "--sigma");
  EXPECT_FALSE(fs::exists(root_ / "bad.json"));
  EXPECT_TRUE(read_file(ck / "config.json") == applied);
}

}  // namespace
}  // namespace nfp
