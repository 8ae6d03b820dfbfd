// `nfp eval`: roll a trained policy out in a simulated task and write LeRobot's eval_info.json.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "command.hpp"
#include "inference_flags.hpp"
#include "nfp/checkpoint.hpp"
#include "nfp/device.hpp"
#include "nfp/embedding_monitor.hpp"
#include "nfp/error.hpp"
#include "nfp/evaluator.hpp"
#include "nfp/flow.hpp"
#include "nfp/export.hpp"
#include "nfp/monitor.hpp"
#include "nfp/runtime_runner.hpp"
#include "nfp/runtime_setup.hpp"
#include "nfp/serve_client.hpp"

namespace nfp::cli {
namespace {

struct EvalArgs {
  std::string checkpoint, server, api_key, task, video, out, instruction, backend = "torch", model, weights = "f32";
  InferenceFlags inference;
  bool instruction_given = false;
  int64_t episodes = 50, video_episodes = 4;
  int goal = -1;
  uint64_t seed = 100000;
  int threads = kDefaultThreads;
  std::string device = "cpu";
  bool json_out = false, no_progress = false, monitor = false, hold = false;
  Perturbation perturbation;
};

EvalOptions eval_options(const EvalArgs& a, const std::string& recorded_task, bool reads_instruction) {
  EvalOptions o;
  o.task = a.task.empty() ? recorded_task : a.task;
  require(!o.task.empty(), "--task is required (the policy does not record its task)");
  o.episodes = a.episodes;
  o.seed = a.seed;
  o.video_dir = a.video;
  o.video_episodes = a.video_episodes;
  if (a.instruction_given) {
    require(reads_instruction,
            "--instruction: this policy does not read instructions (it was trained without --obs ...,instruction)");
    o.instruction = a.instruction;
  }
  o.goal = a.goal;
  o.progress = !a.no_progress;
  o.perturbation = a.perturbation;
  return o;
}

void print_monitor(const json& info) {
  if (!info["aggregated"].contains("monitor")) return;
  const auto& m = info["aggregated"]["monitor"];
  auto num = [](const json& v) { return v.is_null() ? std::string("n/a") : std::to_string(v.get<double>()).substr(0, 5); };
  std::cout << "monitor (" << m["score"].get<std::string>() << ", alpha " << m["alpha"] << "): alarms in "
            << m["alarms"] << " episodes; " << m["successes"] << " successes (false-alarm rate "
            << num(m["false_alarm_rate"]) << "), " << m["failures"] << " failures (caught " << num(m["tpr"])
            << ", mean lead " << num(m["mean_lead_steps"]) << " steps); AUROC " << num(m["auroc"]) << "\n";
}

void print_summary(const EvalArgs& a, const json& info, const std::string& policy, const std::string& settings) {
  const auto& g = info["aggregated"];
  std::cout << "eval " << info["task"].get<std::string>() << " " << policy << " (" << settings << "): success "
            << g["pc_success"].get<double>() << "% over " << a.episodes << " episodes, chunk latency p50 "
            << g["chunk_latency_ms_p50"].get<double>() << " ms, p99 " << g["chunk_latency_ms_p99"].get<double>()
            << " ms -> " << a.out << "\n";
  print_monitor(info);
  if (g.contains("per_goal")) {
    std::cout << "per goal:";
    for (const auto& pg : g["per_goal"])
      std::cout << " [" << pg["goal"].get<int>() << "] " << pg["pc_success"].get<double>() << "% ("
                << pg["episodes"].get<int64_t>() << ")";
    std::cout << "\n";
  }
  if (a.json_out) {
    json line = info;
    line.erase("per_episode");
    print_json_line(line.dump());
  }
}

// --monitor: the checkpoint's calibration, and its embedding monitor when that is the score it calibrated.
void attach_monitor(EvalOptions& o, const std::string& checkpoint, const json& inference, int64_t n_action_steps) {
  o.monitor = load_monitor(checkpoint, inference, n_action_steps);
  if (o.monitor->score == "embedding")
    o.embedding = std::make_shared<const EmbeddingMonitor>(EmbeddingMonitor::load(checkpoint));
}

// The closed loop against a policy server: every control step's observation goes to the server (step requests),
// so the episode equals the in-process one; the chunk latency is the round trip seen from here.
void run_remote_eval(const EvalArgs& a) {
  require(!a.monitor, "--monitor runs with --checkpoint (its calibration lives in the checkpoint)");
  require(!a.hold, "--hold-on-nonfinite: with --server the server answers an unusable observation with an error");
  require(!a.inference.any(),
          "--server: the server's inference settings apply; start `nfp serve` with --strategy, --sigma, ... instead");
  RemotePolicy remote(a.server, a.api_key);
  const AgentSpec& spec = remote.spec();
  json info = evaluate_agent(remote, spec, eval_options(a, spec.task, spec.instruction));
  info["server"] = a.server;
  info["model"] = remote.metadata().value("model", std::string());
  write_json_file(a.out, info);
  std::string settings = spec.inference.value("strategy", std::string("?")) + " via " + a.server;
  print_summary(a, info, spec.policy, settings);
}

// The closed loop on the libtorch-free runtime: the checkpoint exported to a temporary .nfpr (or --model FILE),
// rolled out by a RuntimeAgent, so success is measured on the code that would run on the robot.
void run_runtime_eval(const EvalArgs& a) {
  require(a.device == "cpu", "--backend runtime runs on the CPU (drop --device)");
  std::filesystem::path model = a.model;
  std::filesystem::path exported;
  if (model.empty()) {
    exported = std::filesystem::temp_directory_path() /
               ("nfp-eval-" + std::to_string(::getpid()) + "-" + std::to_string(std::rand()) + ".nfpr");
    export_checkpoint(a.checkpoint, exported);
    model = exported;
  }
  struct Remove {
    std::filesystem::path p;
    ~Remove() {
      std::error_code ec;
      if (!p.empty()) std::filesystem::remove(p, ec);
    }
  } cleanup{exported};
  RuntimeRunnerOptions ro = runtime_runner_options(a.inference);
  ro.hold_on_nonfinite = a.hold;
  ro.score_continuation = a.monitor;
  RuntimeRunner agent(load_runtime_model(model.string(), a.weights), ro);
  const AgentSpec& spec = agent.spec();
  EvalOptions o = eval_options(a, spec.task, spec.instruction);
  if (a.monitor) {
    require(!a.checkpoint.empty(), "--monitor needs --checkpoint RUN (its calibration lives in the checkpoint)");
    attach_monitor(o, a.checkpoint, spec.inference, spec.n_action_steps);
  }
  json info = evaluate_agent(agent, spec, o);
  info["backend"] = "runtime";
  info["runtime"] = {{"kernels", agent.info().kernels}, {"weights", agent.info().weights}};
  if (!a.checkpoint.empty()) info["checkpoint"] = a.checkpoint;
  else info["model"] = a.model;
  write_json_file(a.out, info);
  print_summary(a, info, spec.policy, agent.describe());
}

void run_eval(const EvalArgs& a) {
  const torch::Device device = resolve_device(a.device);
  configure_threads(a.threads);
  if (a.checkpoint.empty() && a.server.empty() && a.model.empty())
    throw CLI::RequiredError("--checkpoint RUN (or --server ws://HOST:PORT, or --model FILE.nfpr)");
  if (!a.server.empty()) return run_remote_eval(a);
  require(a.weights == "f32" || a.backend == "runtime" || !a.model.empty(),
          "--weights applies to the runtime backend (--backend runtime or --model FILE.nfpr)");
  if (a.backend == "runtime" || !a.model.empty()) return run_runtime_eval(a);
  Policy policy = load_policy(a.checkpoint, device);
  RunnerOptions run = runner_options(*policy, a.inference);
  run.hold_on_nonfinite = a.hold;
  EvalOptions o = eval_options(a, policy->config().task, has_modality(policy->config(), "instruction"));
  if (a.monitor) attach_monitor(o, a.checkpoint, json(run.inference), run.n_action_steps);
  json info = evaluate_policy(policy, run, o);
  info["checkpoint"] = a.checkpoint;
  info["parameters"] = count_parameters(*policy);
  info["head_parameters"] = count_parameters(*policy->head());
  write_json_file(a.out, info);
  print_summary(a, info, policy->config().head.type, describe_inference(*policy, run));
}

void setup_eval(CLI::App& root) {
  auto a = std::make_shared<EvalArgs>();
  auto* c = root.add_subcommand("eval", "Evaluate a trained policy in a simulated task (eval_info.json)");
  auto* checkpoint = c->add_option("--checkpoint", a->checkpoint, "run directory of `nfp train` (or its checkpoint/)");
  auto* server = c->add_option("--server", a->server, "evaluate the policy a server serves instead (ws://HOST:PORT, `nfp serve`)")
      ->excludes(checkpoint);
  c->add_option("--api-key", a->api_key, "--server: the server's API key");
  c->add_option("--backend", a->backend, "torch (libtorch, default) or runtime (the libtorch-free runtime a robot runs; "
                                          "the checkpoint is exported first)")
      ->check(CLI::IsMember({"torch", "runtime"}))->capture_default_str();
  c->add_option("--model", a->model, "evaluate an exported policy (.nfpr, `nfp export`) on the runtime")
      ->excludes(checkpoint)->excludes(server)->check(CLI::ExistingFile);
  c->add_option("--weights", a->weights, "runtime backend: weight precision f32, bf16, int8 or w8a8")
      ->check(CLI::IsMember({"f32", "bf16", "int8", "w8a8"}))->capture_default_str();
  c->add_option("--task", a->task, "task (default: the one recorded at training)");
  c->add_option("--episodes", a->episodes, "episodes")->capture_default_str()->check(whole(1, 10000000));
  c->add_option("--seed", a->seed, "episode i uses seed + i; keep clear of the collection seeds")->capture_default_str()
      ->check(seed_value());
  add_inference_flags(*c, a->inference);
  add_threads_option(*c, a->threads);
  add_device_option(*c, a->device);
  auto* video = c->add_option("--video", a->video, "write MP4s of the first episodes here (`nfp report` shows them)");
  c->add_option("--video-episodes", a->video_episodes, "--video: how many of the first episodes to record")
      ->capture_default_str()->check(whole(1, 10000000))->needs(video);
  c->add_option("--out", a->out, "eval_info.json path")->required();
  c->add_option("--instruction", a->instruction, "replace the task's instruction (\"\" blanks it) to probe the policy")
      ->each([a](const std::string&) { a->instruction_given = true; });
  c->add_option("--goal", a->goal, "language-conditioned tasks: run every episode on goal N (nfp tasks lists them)")
      ->check(whole(0, 1000000));
  std::string kinds;
  for (const auto& k : perturbation_kinds()) kinds += (kinds.empty() ? "" : ", ") + k;
  c->add_option("--perturb", a->perturbation.kind, "failure probe: " + kinds + " (nfp/perturbation.hpp)")
      ->check(CLI::IsMember(perturbation_kinds()))->capture_default_str();
  c->add_option("--perturb-at", a->perturbation.at_step, "--perturb: from this control step on")->check(whole(0, 100000000));
  c->add_option("--perturb-magnitude", a->perturbation.magnitude,
                "--perturb: noise std (fraction of the action range / data units / fraction of 255), colour blend, or "
                "metres (object_shift)")->check(non_negative_real(1e6));
  c->add_flag("--hold-on-nonfinite", a->hold,
              "an observation with NaN / Inf: hold the last action (and count it, an alarm for --monitor) instead of "
              "stopping with an error");
  c->add_flag("--monitor", a->monitor, "run the likelihood monitor calibrated by `nfp monitor calibrate`: per-episode "
                                       "alarm, alarm step and score trace, and the detection metrics");
  c->add_flag("--no-progress", a->no_progress, "no progress bar");
  c->add_flag("--json", a->json_out, "print the result (without per_episode) as one JSON line");
  c->callback([a] { run_eval(*a); });
}

}  // namespace

NFP_COMMAND("eval", setup_eval);

}  // namespace nfp::cli
