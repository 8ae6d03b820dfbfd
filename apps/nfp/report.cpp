// `nfp report RUN_OR_DIR... --out DIR`: one static HTML page (index.html + assets/) over runs, their evaluations and
// benchmark directories (nfp/report.hpp).
#include <iostream>

#include "command.hpp"
#include "nfp/json_io.hpp"
#include "nfp/report.hpp"

namespace nfp::cli {
namespace {

struct ReportArgs {
  std::vector<std::string> inputs;
  std::string out, title = "nfp report";
  int64_t max_videos = 6;
  bool force = false, json_out = false;
};

void run_report(const ReportArgs& a) {
  refuse_existing_output(a.out, a.force);
  ReportOptions o;
  for (const auto& i : a.inputs) o.inputs.emplace_back(i);
  o.out = a.out;
  o.title = a.title;
  o.max_videos = a.max_videos;
  o.command = "nfp report";
  for (const auto& i : a.inputs) o.command += " " + i;
  o.command += " --out " + a.out;
  const ReportSummary s = write_report(o);
  std::cout << "report: " << s.runs << " runs, " << s.evals << " evaluations, " << s.videos << " videos, " << s.benches
            << " benchmark directories -> " << s.index.string() << "\n";
  for (const auto& p : s.problems) std::cout << "  note: " << p << "\n";
  if (a.json_out)
    print_json_line(json{{"index", s.index.string()}, {"runs", s.runs}, {"evals", s.evals}, {"videos", s.videos},
                         {"benches", s.benches}, {"problems", s.problems}}.dump());
}

void setup_report(CLI::App& root) {
  auto a = std::make_shared<ReportArgs>();
  auto* c = root.add_subcommand("report", "Write one static HTML page over runs, evaluations and benchmark directories");
  c->add_option("inputs", a->inputs,
                "run directories (nfp train --out), eval_info.json files (nfp eval --out), nfp bench suite|ablations "
                "directories, or directories holding them (searched 4 levels down)")
      ->required();
  c->add_option("--out", a->out, "the report directory (index.html + assets/)")->required();
  c->add_option("--title", a->title, "the page's title")->capture_default_str();
  c->add_option("--max-videos", a->max_videos,
                "rollout videos shown per evaluation (first failure, first success, then the other failures)")
      ->capture_default_str()
      ->check(whole(0, 1000));
  add_force_flag(*c, a->force);
  c->add_flag("--json", a->json_out, "print the result as one JSON line");
  c->callback([a] { run_report(*a); });
}

}  // namespace

NFP_COMMAND("report", setup_report);

}  // namespace nfp::cli
