// What the machine was doing while a benchmark ran, for the reports (these machines are shared and noisy).
#pragma once
#include <string>

namespace nfp::bench {

// /proc/loadavg's 1-, 5- and 15-minute load averages as "1.02 0.87 0.50"; "unknown" where it cannot be read.
std::string load_average();
// "AMD EPYC, 2 cores": /proc/cpuinfo's first model name and the online cores ("unknown" for the model if unread).
std::string machine_description();

}  // namespace nfp::bench
