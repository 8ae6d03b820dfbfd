// What `nfp report` found on disk (report_inputs.cpp), before anything is drawn: runs with their metrics and
// evaluations, evaluations without a run, and benchmark directories. Every reader here is tolerant: what is missing
// or damaged becomes a `problems` line of the entry it belongs to, never an exception.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include "nfp/json_io.hpp"

namespace nfp::report {

// metrics.csv of `nfp train` (step,loss,lr,valid_loss,it_s,elapsed_s): the rows up to the first damaged line.
struct MetricRows {
  std::vector<std::string> columns;
  std::vector<std::vector<double>> rows;  // each columns.size() long; "nan" or an empty cell is NaN
  std::string problem;                    // empty, or what was wrong and which rows are kept
  std::vector<double> column(const std::string& name) const;  // empty if absent
};
MetricRows read_metrics(const std::filesystem::path& csv);

// A CSV table as text cells (a benchmark's results.csv): nfp/csv.hpp's RFC 4180 records, blank lines skipped.
// Throws nfp::Error naming `source` and the line for a malformed quote.
std::vector<std::vector<std::string>> read_text_csv(const std::string& text, const std::string& source);

struct EvalEntry {
  std::filesystem::path file;
  json info;            // eval_info.json as written by `nfp eval` (null when unreadable)
  std::string problem;  // why it could not be read
};

struct RunEntry {
  std::string name;
  std::filesystem::path dir;  // the run directory; empty for an evaluation whose run was not among the inputs
  json train_config, policy_config, monitor;  // train_config.json, checkpoint/config.json, checkpoint/monitor.json
  MetricRows metrics;
  std::vector<EvalEntry> evals;
  std::vector<std::string> problems;
};

struct BenchEntry {
  std::string name;
  std::filesystem::path dir;
  std::vector<std::vector<std::string>> table;   // results.csv (header row first)
  std::vector<std::filesystem::path> charts;     // its *.svg
  std::string summary;                           // results.md's first paragraph (the profile and budget)
  std::vector<std::string> problems;
};

struct Inputs {
  std::vector<RunEntry> runs;
  std::vector<BenchEntry> benches;
  std::vector<std::string> problems;  // inputs that are neither (unreadable JSON given by name, ...)
};

// Reading eval_info.json as found (any key may be missing or of another type): object[key] when `object` is an
// object holding it, else null (never throws, never inserts); and that member as a double, NaN unless a number.
const json& member(const json& object, const std::string& key);
double number_at(const json& object, const std::string& key);

// Throws nfp::Error only for a path that does not exist.
Inputs gather_inputs(const std::vector<std::filesystem::path>& paths);

}  // namespace nfp::report
