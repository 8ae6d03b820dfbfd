// `nfp export --checkpoint RUN --out policy.nfpr`: a checkpoint for the libtorch-free runtime.
#include <iostream>

#include "command.hpp"
#include "nfp/error.hpp"
#include "nfp/runtime.hpp"
#include "nfp/export.hpp"

namespace nfp::cli {
namespace {

struct ExportArgs {
  std::string checkpoint, out;
  bool json_out = false;
};

void run_export(const ExportArgs& a) {
  require(!a.out.empty(), "pass --out FILE.nfpr");
  json r = export_checkpoint(a.checkpoint, a.out);
  runtime::Model m(a.out);  // read back with the runtime: what was written loads
  r["dim"] = m.info().dim;
  r["obs_dim"] = m.info().obs_dim;
  r["layers"] = m.info().layers;
  std::cout << "exported " << a.checkpoint << " -> " << a.out << " (" << r["bytes"] << " bytes, " << m.info().layers
            << " transforms, action " << m.info().horizon << "x" << m.info().action_dim << ", obs " << m.info().obs_dim
            << ")\n";
  if (a.json_out) print_json_line(r.dump());
}

void setup_export(CLI::App& root) {
  auto a = std::make_shared<ExportArgs>();
  auto* c = root.add_subcommand("export", "Export a checkpoint for the libtorch-free runtime (.nfpr)");
  c->add_option("--checkpoint", a->checkpoint, "checkpoint directory (config.json + model.safetensors)")->required();
  c->add_option("--out", a->out, "output .nfpr file")->required();
  c->add_flag("--json", a->json_out, "print one JSON object as the last line");
  c->callback([a] { run_export(*a); });
}

}  // namespace
NFP_COMMAND("export", setup_export);
}  // namespace nfp::cli
