// `nfp serve`: a trained policy behind openpi's WebSocket protocol (nfp/serve.hpp), many clients, one process.
#include <algorithm>
#include <csignal>
#include <iostream>

#include "command.hpp"
#include "inference_flags.hpp"
#include "nfp/checkpoint.hpp"
#include "nfp/device.hpp"
#include "nfp/runtime_setup.hpp"
#include "nfp/serve.hpp"
#include "nfp/sim_env.hpp"

namespace nfp::cli {
namespace {

struct ServeArgs {
  std::string checkpoint, keymap, name;
  InferenceFlags inference;
  ServeOptions serve;
  ServiceOptions service;
  int threads = kDefaultThreads;
  std::string device = "cpu";
  bool json_out = false, quiet = false;
};

void run_serve(ServeArgs& a) {
  const torch::Device device = resolve_device(a.device);
  configure_threads(a.threads);
  std::signal(SIGPIPE, SIG_IGN);  // a client that vanishes mid-reply is an error on its socket, not a signal
  Policy policy = load_policy(a.checkpoint, device);
  const RunnerOptions run = runner_options(*policy, a.inference);
  const auto& task = policy->config().task;
  const auto tasks = sim::task_names();
  if (std::find(tasks.begin(), tasks.end(), task) != tasks.end()) a.service.control_hz = sim::task_spec(task).control_hz;
  a.service.model = a.name.empty() ? a.checkpoint : a.name;
  if (!a.keymap.empty()) a.service.keymap = read_keymap(a.keymap, agent_spec(*policy, run));
  PolicyService service(policy, run, a.service);
  a.serve.handle_signals = true;
  a.serve.log = !a.quiet;
  PolicyServer server(service, a.serve);
  std::cout << "serving " << a.checkpoint << " (" << policy->config().head.type << ", "
            << describe_inference(*policy, run) << ") on ws://" << a.serve.host << ":" << server.port() << " ("
            << (a.serve.api_key.empty() ? "" : "API key required; ") << "batching "
            << (a.service.max_batch > 1 ? "up to " + std::to_string(a.service.max_batch) + " within " +
                                              json(a.service.batch_window_ms).dump() + " ms"
                                        : std::string("off"))
            << "); Ctrl-C or SIGTERM stops" << std::endl;
  server.run();
  const auto s = service.stats();
  std::cout << "served " << s.requests << " requests (" << s.errors << " errors), " << s.chunks << " chunks in "
            << s.batches << " batched passes (largest " << s.max_batch_seen << ")" << std::endl;
  if (a.json_out)
    print_json_line(json{{"requests", s.requests}, {"errors", s.errors}, {"chunks", s.chunks}, {"batches", s.batches},
                         {"max_batch", s.max_batch_seen}, {"port", server.port()}}.dump());
}

void setup_serve(CLI::App& root) {
  auto a = std::make_shared<ServeArgs>();
  auto* c = root.add_subcommand("serve", "Serve a trained policy over openpi's WebSocket protocol (many clients)");
  c->add_option("--checkpoint", a->checkpoint, "run directory of `nfp train` (or a checkpoint in it)")->required();
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
  c->add_flag("--quiet", a->quiet, "no line per connection on stderr");
  c->add_flag("--json", a->json_out, "print the serving statistics as one JSON line when stopped");
  c->callback([a] { run_serve(*a); });
}

}  // namespace

NFP_COMMAND("serve", setup_serve);

}  // namespace nfp::cli
