// Finding what to report: run directories (`nfp train` outputs), eval_info.json files (`nfp eval`), and benchmark
// directories (`nfp bench suite|ablations`), given directly or found a few levels under the inputs. Evaluations are
// attached to the run whose checkpoint they name.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>
#include <set>

#include "nfp/atomic_file.hpp"
#include "nfp/csv.hpp"
#include "nfp/error.hpp"
#include "report_inputs.hpp"

namespace fs = std::filesystem;

namespace nfp::report {
namespace {

constexpr int kMaxDepth = 4;                        // how far below an input directory to look
constexpr uintmax_t kMaxJsonBytes = 256u << 20;     // larger .json files are not eval_info.json files

bool is_run_dir(const fs::path& d) {
  return fs::exists(d / "train_config.json") || fs::exists(d / "checkpoint" / "config.json");
}
bool is_bench_dir(const fs::path& d) { return fs::exists(d / "results.csv"); }
bool looks_like_eval(const json& j) { return j.is_object() && j.contains("aggregated") && j.contains("per_episode"); }

std::string message_of(const std::exception& e) { return e.what(); }

// Reads an optional JSON file of a run; a damaged one becomes a problem line.
json read_optional(const fs::path& file, std::vector<std::string>& problems) {
  if (!fs::exists(file)) return nullptr;
  try {
    return read_json_file(file);
  } catch (const std::exception& e) {
    problems.push_back(file.filename().string() + " could not be read: " + message_of(e));
    return nullptr;
  }
}

RunEntry read_run(const fs::path& dir) {
  RunEntry r;
  r.dir = dir;
  r.name = dir.filename().string();
  r.train_config = read_optional(dir / "train_config.json", r.problems);
  r.policy_config = read_optional(dir / "checkpoint" / "config.json", r.problems);
  r.monitor = read_optional(dir / "checkpoint" / "monitor.json", r.problems);
  if (fs::exists(dir / "metrics.csv")) {
    r.metrics = read_metrics(dir / "metrics.csv");
    if (!r.metrics.problem.empty()) r.problems.push_back(r.metrics.problem);
  } else {
    r.problems.push_back("no metrics.csv: this run has no training curves");
  }
  return r;
}

std::string first_paragraph(const std::string& md) {
  std::string out, line;
  bool started = false;
  for (size_t i = 0; i <= md.size(); ++i) {
    if (i < md.size() && md[i] != '\n') {
      line += md[i];
      continue;
    }
    const bool blank = line.find_first_not_of(" \t\r") == std::string::npos;
    if (started && (blank || line[0] == '#' || line[0] == '|')) break;
    if (!blank && line[0] != '#' && line[0] != '|') started = true, out += (out.empty() ? "" : " ") + line;
    line.clear();
  }
  return out;
}

BenchEntry read_bench(const fs::path& dir) {
  BenchEntry b;
  b.dir = dir;
  b.name = dir.filename().string();
  try {
    b.table = read_text_csv(read_file(dir / "results.csv"), (dir / "results.csv").string());
    if (b.table.size() < 2) b.problems.push_back("results.csv has no rows yet (the benchmark has not finished a cell)");
  } catch (const std::exception& e) {
    b.problems.push_back("results.csv could not be read: " + message_of(e));
  }
  if (fs::exists(dir / "results.md")) {
    try {
      b.summary = first_paragraph(read_file(dir / "results.md"));
    } catch (const std::exception&) {
    }
  }
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file() && e.path().extension() == ".svg") b.charts.push_back(e.path());
  std::sort(b.charts.begin(), b.charts.end());
  return b;
}

struct Scan {
  std::vector<RunEntry> runs;
  std::vector<BenchEntry> benches;
  std::vector<EvalEntry> evals;
  std::vector<std::string> problems;
  std::set<fs::path> seen;  // canonical paths already taken (an input given twice, or inside another)

  bool first_visit(const fs::path& p) { return seen.insert(fs::weakly_canonical(p)).second; }

  // A .json file: an evaluation, or (named explicitly) a problem; found while searching, other JSON is ignored.
  void json_file(const fs::path& f, bool explicit_input) {
    if (!first_visit(f)) return;
    EvalEntry e;
    e.file = f;
    try {
      if (fs::file_size(f) > kMaxJsonBytes) throw Error("larger than an eval_info.json can be");
      e.info = read_json_file(f);
      if (looks_like_eval(e.info)) return evals.push_back(std::move(e));
      if (explicit_input) problems.push_back(f.string() + " is not an eval_info.json of `nfp eval` (no aggregated / per_episode)");
    } catch (const std::exception& ex) {
      if (!explicit_input && f.filename().string().find("eval") == std::string::npos) return;
      e.info = nullptr;
      e.problem = "could not be read: " + message_of(ex);
      evals.push_back(std::move(e));
    }
  }

  void directory(const fs::path& d, int depth) {
    if (!first_visit(d)) return;
    if (is_run_dir(d)) {
      runs.push_back(read_run(d));
      for (const auto& e : fs::directory_iterator(d))  // evaluations written into the run directory
        if (e.is_regular_file() && e.path().extension() == ".json" && e.path().filename() != "train_config.json")
          json_file(e.path(), false);
      return;
    }
    if (is_bench_dir(d)) benches.push_back(read_bench(d));  // and its cells' runs and evaluations (a suite's runs/, evals/)
    std::vector<fs::path> entries;
    for (const auto& e : fs::directory_iterator(d)) entries.push_back(e.path());
    std::sort(entries.begin(), entries.end());
    for (const auto& p : entries) {
      if (p.filename().string().rfind('.', 0) == 0) continue;  // hidden: temporaries of killed writers
      if (fs::is_directory(p) && depth < kMaxDepth) directory(p, depth + 1);
      else if (fs::is_regular_file(p) && p.extension() == ".json") json_file(p, false);
    }
  }
};

// The run an evaluation belongs to: the one its "checkpoint" names (the run or its checkpoint/), by path, else by
// the directory's name when exactly one run has it (the evaluation was run from another working directory).
RunEntry* owner(std::vector<RunEntry>& runs, const EvalEntry& e) {
  if (!e.info.is_object() || !e.info.contains("checkpoint") || !e.info["checkpoint"].is_string()) return nullptr;
  fs::path ck = e.info["checkpoint"].get<std::string>();
  if (ck.filename().empty()) ck = ck.parent_path();
  if (ck.filename() == "checkpoint") ck = ck.parent_path();
  std::error_code ec;
  const fs::path canon = fs::weakly_canonical(ck, ec);
  for (auto& r : runs)
    if (!ec && fs::weakly_canonical(r.dir) == canon) return &r;
  RunEntry* match = nullptr;
  for (auto& r : runs)
    if (r.name == ck.filename().string()) {
      if (match) return nullptr;
      match = &r;
    }
  return match;
}

std::string eval_name(const EvalEntry& e) {
  const json& i = e.info;
  if (i.is_object() && i.contains("model") && i["model"].is_string() && !i["model"].get<std::string>().empty())
    return fs::path(i["model"].get<std::string>()).filename().string();
  return e.file.stem().string();
}

}  // namespace

const json& member(const json& object, const std::string& key) {
  static const json null_value;
  if (!object.is_object()) return null_value;
  const auto it = object.find(key);
  return it == object.end() ? null_value : *it;
}

double number_at(const json& object, const std::string& key) {
  const json& v = member(object, key);
  return v.is_number() ? v.get<double>() : NAN;
}

std::vector<double> MetricRows::column(const std::string& name) const {
  const auto it = std::find(columns.begin(), columns.end(), name);
  if (it == columns.end()) return {};
  const size_t c = size_t(it - columns.begin());
  std::vector<double> v;
  for (const auto& r : rows) v.push_back(r[c]);
  return v;
}

MetricRows read_metrics(const fs::path& csv) {
  MetricRows m;
  std::string text;
  try {
    text = read_file(csv);
  } catch (const std::exception& e) {
    m.problem = "metrics.csv could not be read: " + message_of(e);
    return m;
  }
  size_t pos = 0;
  int64_t line = 0;
  CsvRecord rec;
  // the rows up to the first damaged record: a malformed quote, a wrong cell count or a cell that is not a number
  auto damaged = [&](int64_t at, const std::string& why) {
    m.problem = "metrics.csv line " + std::to_string(at) + " is damaged (" + why + "); the curves show the " +
                std::to_string(m.rows.size()) + " rows before it";
  };
  try {
    while (next_csv_record(text, pos, line, csv.string(), rec)) {
      if (rec.cells.size() == 1 && rec.cells[0].empty()) continue;  // a blank line
      if (m.columns.empty()) {
        m.columns = rec.cells;
        continue;
      }
      std::vector<double> row;
      std::string bad;
      if (rec.cells.size() != m.columns.size())
        bad = std::to_string(rec.cells.size()) + " cells where the header has " + std::to_string(m.columns.size());
      for (size_t c = 0; bad.empty() && c < rec.cells.size(); ++c) {
        const std::string& s = rec.cells[c];
        if (s.empty() || s == "nan" || s == "-nan") {
          row.push_back(NAN);
          continue;
        }
        char* end = nullptr;
        const double v = std::strtod(s.c_str(), &end);
        if (end != s.c_str() + s.size()) bad = "'" + truncate_for_message(s) + "' in column " + m.columns[c] + " is not a number";
        row.push_back(v);
      }
      if (!bad.empty()) {
        damaged(rec.line, bad);
        break;
      }
      m.rows.push_back(std::move(row));
    }
  } catch (const Error& e) {
    damaged(rec.line, message_of(e));  // rec.line: where the bad record starts
  }
  if (m.columns.empty() && m.problem.empty()) m.problem = "metrics.csv is empty: this run has no training curves";
  return m;
}

std::vector<std::vector<std::string>> read_text_csv(const std::string& text, const std::string& source) {
  std::vector<std::vector<std::string>> rows;
  size_t pos = 0;
  int64_t line = 0;
  CsvRecord rec;
  while (next_csv_record(text, pos, line, source, rec))
    if (!(rec.cells.size() == 1 && rec.cells[0].empty())) rows.push_back(std::move(rec.cells));  // blank lines skipped
  return rows;
}

Inputs gather_inputs(const std::vector<fs::path>& paths) {
  Scan scan;
  for (const auto& p : paths) {
    require(fs::exists(p), "nfp report: " + quoted(p.string()) +
                               " does not exist; give run directories, eval_info.json files or benchmark directories");
    if (fs::is_directory(p) && p.filename() == "checkpoint" && is_run_dir(p.parent_path())) scan.directory(p.parent_path(), 0);
    else if (fs::is_directory(p)) scan.directory(p, 0);
    else scan.json_file(p, true);
  }
  Inputs in;
  in.runs = std::move(scan.runs);
  in.benches = std::move(scan.benches);
  in.problems = std::move(scan.problems);
  // Two runs of the same name (suite cells, say): the parent's name tells them apart.
  std::map<std::string, int> count;
  for (const auto& r : in.runs) ++count[r.name];
  for (auto& r : in.runs)
    if (count[r.name] > 1) r.name = r.dir.parent_path().filename().string() + "/" + r.name;
  const size_t with_dirs = in.runs.size();
  for (auto& e : scan.evals) {
    RunEntry* r = owner(in.runs, e);
    if (r && size_t(r - in.runs.data()) < with_dirs) {
      r->evals.push_back(std::move(e));
      continue;
    }
    RunEntry alone;  // an evaluation whose run is not among the inputs (or of a served / exported model)
    alone.name = eval_name(e);
    alone.evals.push_back(std::move(e));
    in.runs.push_back(std::move(alone));
  }
  for (auto& r : in.runs)
    if (!r.dir.empty() && r.evals.empty())
      r.problems.push_back("no evaluation found: run `nfp eval --checkpoint " + r.dir.string() +
                           " --out " + (r.dir / "eval_info.json").string() + "` and report again");
  require(!in.runs.empty() || !in.benches.empty() || !in.problems.empty(),
          "nfp report: found no run directory, eval_info.json or benchmark directory under the inputs; give the "
          "directories `nfp train`, `nfp eval --out` or `nfp bench suite|ablations` wrote");
  return in;
}

}  // namespace nfp::report
