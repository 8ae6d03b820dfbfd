// `nfp export --checkpoint RUN --out policy.nfpr [--force]`: a checkpoint for the libtorch-free runtime. The file
// is written under a temporary name, loaded back with the runtime and sampled once; only a file that passes
// replaces anything (an atomic rename), and an existing --out only with --force.
#include <cmath>
#include <iostream>

#include "command.hpp"
#include "nfp/atomic_file.hpp"
#include "nfp/error.hpp"
#include "nfp/export.hpp"
#include "nfp/runtime.hpp"

namespace nfp::cli {
namespace {

namespace fs = std::filesystem;

struct ExportArgs {
  std::string checkpoint, out;
  bool json_out = false, force = false;
};

// The written file as a user's controller will see it: it loads, and one sample from the observation the
// normalization centres (or zeros; grey camera frames) is OK with finite actions and log p. Throws nfp::Error saying what failed.
void validate_with_runtime(runtime::Model& m) {
  std::vector<float> obs(size_t(m.info().obs_dim), 0.0f);
  const json cfg = json::parse(m.config_json());
  if (cfg.contains("normalization") && cfg["normalization"].contains("obs_mean"))
    obs = cfg["normalization"]["obs_mean"].get<std::vector<float>>();
  runtime::Workspace ws(m, 1);
  std::vector<float> action(size_t(m.info().dim));
  double lp = NAN;
  // A policy takes its whole observation: mid-grey camera frames and no instruction besides the state.
  const nfp_rt_info& info = m.info();
  const std::vector<uint8_t> grey(size_t(info.image_height) * size_t(info.image_width) * 3, 128);
  const std::vector<const uint8_t*> images(size_t(info.cameras) * size_t(info.history), grey.data());
  nfp_rt_status s = ws.observe(obs, images);
  if (s == NFP_RT_OK) s = ws.sample({}, info.sigma, 0, action, &lp);
  require(s == NFP_RT_OK, "the exported file loads but a test sample fails (" + std::string(nfp_rt_status_string(s)) +
                              "): the checkpoint's weights or statistics are unusable");
}

void run_export(const ExportArgs& a) {
  require(!a.out.empty(), "pass --out FILE.nfpr");
  const fs::path out = a.out;
  refuse_existing_output(out, a.force);  // before any work
  require(!fs::is_directory(out), "--out '" + a.out + "' is a directory; pass a file name such as " + a.out + "/policy.nfpr");
  // A sibling temporary name (same directory, so the final rename is atomic), removed on every failure; one a
  // killed export left is removed by the next write of this name.
  remove_stale_temporaries(out);
  const fs::path tmp = temp_sibling(out);
  struct Cleanup {
    fs::path p;
    ~Cleanup() {
      std::error_code ec;
      if (!p.empty()) fs::remove(p, ec);
    }
  } cleanup{tmp};
  json r = export_checkpoint(a.checkpoint, tmp);
  std::unique_ptr<runtime::Model> m;
  try {
    m = std::make_unique<runtime::Model>(tmp.string());  // read back with the runtime: what was written loads
  } catch (const std::exception& e) {
    throw Error("the exported file does not load back with the runtime (" + std::string(e.what()) + "); '" + a.out +
                "' was not written");
  }
  validate_with_runtime(*m);
  std::error_code ec;
  commit_rename_point();
  fs::rename(tmp, out, ec);
  require(!ec, "cannot move the exported file into place at '" + a.out + "': " + ec.message());
  cleanup.p.clear();
  r["out"] = a.out;
  r["dim"] = m->info().dim;
  r["obs_dim"] = m->info().obs_dim;
  r["layers"] = m->info().layers;
  const nfp_rt_info& info = m->info();
  std::vector<std::string> cameras;
  for (int i = 0; i < info.cameras; ++i) cameras.push_back(nfp_rt_model_camera(m->get(), i));
  r["cameras"] = cameras;
  r["instruction"] = info.instruction != 0;
  std::string inputs = "state " + std::to_string(info.obs_dim);
  for (const auto& c : cameras)
    inputs += ", " + c + " " + std::to_string(info.image_height) + "x" + std::to_string(info.image_width);
  if (info.instruction) inputs += ", instruction";
  std::cout << "exported " << a.checkpoint << " -> " << a.out << " (" << r["bytes"] << " bytes, " << info.layers
            << " transforms, action " << info.horizon << "x" << info.action_dim << ", observes " << inputs
            << (info.cameras ? " (x" + std::to_string(info.history) + " frames)" : "")
            << "; loaded back and sampled with the runtime)\n";
  if (a.json_out) print_json_line(r.dump());
}

void setup_export(CLI::App& root) {
  auto a = std::make_shared<ExportArgs>();
  auto* c = root.add_subcommand("export", "Export a checkpoint for the libtorch-free runtime (.nfpr)");
  c->add_option("--checkpoint", a->checkpoint, "checkpoint directory (config.json + model.safetensors)")->required();
  c->add_option("--out", a->out, "output .nfpr file")->required();
  add_force_flag(*c, a->force);
  c->add_flag("--json", a->json_out, "print one JSON object as the last line");
  c->callback([a] { run_export(*a); });
}

}  // namespace
NFP_COMMAND("export", setup_export);
}  // namespace nfp::cli
