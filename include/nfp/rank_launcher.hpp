// A local launcher of data-parallel ranks (`nfp train --nproc N`), doing on one machine what torchrun does: it
// starts the same command N times, each with torchrun's variables (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR,
// MASTER_PORT) and OMP_NUM_THREADS, forwards SIGINT / SIGTERM to every rank, and when a rank fails stops the others
// and reports that rank: its exit code and its last error line.
//   RankLaunch l;  l.argv = {"/proc/self/exe", "train", ...};  l.nproc = 2;
//   LaunchResult r = launch_ranks(l);   // blocks until every rank has exited
// Rank 0 keeps this process's stdout and stderr (its progress bar, its --json line); the other ranks' stderr lines
// are relayed prefixed "[rank r] ", their stdout is dropped (rank 0 reports the run).
#pragma once
#include <string>
#include <vector>

namespace nfp {

struct RankLaunch {
  std::vector<std::string> argv;          // the command every rank runs; argv[0] is an executable's path
  int nproc = 1;                          // ranks, 1 .. 1024
  std::string master_addr = "127.0.0.1";  // the rendezvous (rank 0 serves it)
  int master_port = 0;                    // 0: a free port on master_addr, chosen now
  int threads_per_rank = 1;               // OMP_NUM_THREADS of each rank
  double failure_grace_s = 10;            // after a rank failed: how long the others get to exit before SIGKILL
  double stop_grace_s = 120;              // after SIGINT / SIGTERM: how long the ranks get to checkpoint and exit
};

struct LaunchResult {
  int exit_code = 0;     // 0 when every rank succeeded; else the failing rank's (128 + signal when killed by one)
  int failed_rank = -1;  // the rank that failed first (-1: none; a signal stopped the ranks: the code is theirs)
  std::string message;   // one line: which rank failed, how, and its last error line
};

// Runs the ranks to completion. Throws nfp::Error (nothing started) when a rank cannot be started or the port
// cannot be had. SIGINT / SIGTERM received meanwhile go to every rank (which checkpoint and exit), never kill this
// process; a second one kills the ranks at once. The handlers in place before the call are restored after it.
LaunchResult launch_ranks(const RankLaunch& launch);

}  // namespace nfp
