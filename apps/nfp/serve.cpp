// `nfp serve`: a trained policy behind openpi's WebSocket protocol (nfp/serve.hpp), many clients, one process.
#include <algorithm>
#include <csignal>
#include <iostream>
#include <memory>

#include "command.hpp"
#include "inference_flags.hpp"
#include "nfp/checkpoint.hpp"
#include "nfp/device.hpp"
#include "nfp/runtime_runner.hpp"
#include "nfp/runtime_setup.hpp"
#include "nfp/serve.hpp"
#include "nfp/sim_env.hpp"

namespace nfp::cli {
namespace {

// The task's control rate for the metadata (`fallback` for a task outside the suite).
double control_hz(const std::string& task, double fallback) {
  const auto tasks = sim::task_names();
  return std::find(tasks.begin(), tasks.end(), task) != tasks.end() ? sim::task_spec(task).control_hz : fallback;
}

struct ServeArgs {
  std::string checkpoint, model, weights = "f32", keymap, name;
  InferenceFlags inference;
  ServeOptions serve;
  ServiceOptions service;
  int threads = kDefaultThreads;
  std::string device = "cpu";
  bool json_out = false, quiet = false, monitor = false;
};

// The service on either backend: a checkpoint on libtorch, or an exported policy (--model) on the runtime.
std::unique_ptr<PolicyService> make_service(ServeArgs& a, std::string& describe, std::string& task) {
  a.service.model = a.name.empty() ? (a.model.empty() ? a.checkpoint : a.model) : a.name;
  if (!a.model.empty()) {
    require(a.device == "cpu", "--model runs on the libtorch-free runtime, on the CPU (drop --device)");
    const RuntimeRunnerOptions ro = runtime_runner_options(a.inference);
    auto model = load_runtime_model(a.model, a.weights);
    RuntimeRunner probe(model, ro);
    describe = probe.spec().policy + ", " + probe.describe();
    if (a.monitor) {  // the monitor exported with the policy (config.monitor)
      const json cfg = json::parse(model->config_json());
      require(cfg.contains("monitor"), "--monitor: '" + a.model + "' was exported without a monitor; calibrate the "
                                       "checkpoint (nfp monitor calibrate) and export it again");
      a.service.monitor = cfg["monitor"].get<MonitorCalibration>();  // the calibration file's reader and checks
    }
    task = probe.spec().task;
    if (!a.keymap.empty()) a.service.keymap = read_keymap(a.keymap, probe.spec());
    a.service.control_hz = control_hz(task, a.service.control_hz);
    return std::make_unique<PolicyService>(model, ro, a.service);
  }
  require(a.weights == "f32", "--weights applies to --model (the runtime); a checkpoint serves its f32 weights");
  Policy policy = load_policy(a.checkpoint, resolve_device(a.device));
  const RunnerOptions run = runner_options(*policy, a.inference);
  describe = policy->config().head.type + ", " + describe_inference(*policy, run);
  if (a.monitor) {
    a.service.monitor = load_monitor(a.checkpoint, json(run.inference), run.n_action_steps);
    require(a.service.monitor->score == "neg_logp",
            "--monitor: the server scores each planned chunk's neg_logp, but '" + a.checkpoint + "' is calibrated for '" +
                a.service.monitor->score + "'; recalibrate with `nfp monitor calibrate --score neg_logp`");
  }
  task = policy->config().task;
  a.service.control_hz = control_hz(task, a.service.control_hz);
  if (!a.keymap.empty()) a.service.keymap = read_keymap(a.keymap, agent_spec(*policy, run));
  return std::make_unique<PolicyService>(policy, run, a.service);
}

void run_serve(ServeArgs& a) {
  configure_threads(a.threads);
  std::signal(SIGPIPE, SIG_IGN);  // a client that vanishes mid-reply is an error on its socket, not a signal
  if (a.checkpoint.empty() && a.model.empty()) throw CLI::RequiredError("--checkpoint RUN (or --model FILE.nfpr)");
  std::string describe, task;
  auto service = make_service(a, describe, task);
  a.serve.handle_signals = true;
  a.serve.log = !a.quiet;
  PolicyServer server(*service, a.serve);
  const bool batching = !a.model.empty() ? false : a.service.max_batch > 1;
  std::cout << "serving " << a.service.model << " (" << describe << ") on ws://" << a.serve.host << ":" << server.port()
            << " (" << (a.serve.api_key.empty() ? "" : "API key required; ") << "batching "
            << (batching ? "up to " + std::to_string(a.service.max_batch) + " within " +
                               json(a.service.batch_window_ms).dump() + " ms"
                         : std::string(a.model.empty() ? "off" : "off: the runtime plans each client at batch 1"))
            << (a.service.monitor ? "; monitor on" : "") << "); Ctrl-C or SIGTERM stops" << std::endl;
  server.run();
  const auto s = service->stats();
  std::cout << "served " << s.requests << " requests (" << s.errors << " errors), " << s.chunks << " chunks in "
            << s.batches << " passes (largest batch " << s.max_batch_seen << ")" << std::endl;
  if (a.json_out)
    print_json_line(json{{"requests", s.requests}, {"errors", s.errors}, {"chunks", s.chunks}, {"batches", s.batches},
                         {"max_batch", s.max_batch_seen}, {"port", server.port()}}.dump());
}

void setup_serve(CLI::App& root) {
  auto a = std::make_shared<ServeArgs>();
  auto* c = root.add_subcommand("serve", "Serve a trained policy over openpi's WebSocket protocol (many clients)");
  auto* checkpoint = c->add_option("--checkpoint", a->checkpoint, "run directory of `nfp train` (or a checkpoint in it)");
  c->add_option("--model", a->model, "serve an exported policy (.nfpr, `nfp export`) on the libtorch-free runtime")
      ->excludes(checkpoint)->check(CLI::ExistingFile);
  c->add_option("--weights", a->weights, "--model: weight precision f32, bf16, int8 or w8a8")
      ->check(CLI::IsMember({"f32", "bf16", "int8", "w8a8"}))->capture_default_str();
  c->add_option("--host", a->serve.host, "address to listen on (0.0.0.0 or :: for every interface)")->capture_default_str();
  c->add_option("--port", a->serve.port, "port (0: any free port)")->capture_default_str()->check(whole(0, 65535));
  c->add_option("--api-key", a->serve.api_key, "require 'Authorization: Api-Key KEY' from every client");
  c->add_option("--max-clients", a->serve.max_clients, "connections at once")->capture_default_str()->check(whole(1, 100000));
  c->add_option("--max-message-bytes", a->serve.max_message_bytes, "largest request frame (closed with 1009 above)")
      ->capture_default_str()->check(whole(1024, int64_t(1) << 31));
  c->add_option("--idle-timeout", a->serve.idle_timeout_s, "close a client silent this many seconds (0: never)")
      ->capture_default_str()->check(non_negative_real(1e9));
  c->add_option("--batch-window-ms", a->service.batch_window_ms,
                "wait this long for other clients' requests to plan them in one pass (0: none)")
      ->capture_default_str()->check(non_negative_real(1000));
  c->add_option("--max-batch", a->service.max_batch, "chunks planned in one pass at most (1: batching off)")
      ->capture_default_str()->check(whole(1, 4096));
  c->add_option("--keymap", a->keymap, "JSON file mapping client keys to observation keys (LIBERO-style clients)");
  c->add_option("--name", a->name, "the model's name in the metadata (default: the checkpoint path)");
  add_inference_flags(*c, a->inference);
  add_threads_option(*c, a->threads);
  add_device_option(*c, a->device);
  c->add_flag("--monitor", a->monitor, "each reply that planned a chunk carries the likelihood monitor's verdict "
                                       "(the checkpoint's monitor.json, or the one exported in --model's file)");
  c->add_flag("--quiet", a->quiet, "no line per connection on stderr");
  c->add_flag("--json", a->json_out, "print the serving statistics as one JSON line when stopped");
  c->callback([a] { run_serve(*a); });
}

}  // namespace

NFP_COMMAND("serve", setup_serve);

}  // namespace nfp::cli
