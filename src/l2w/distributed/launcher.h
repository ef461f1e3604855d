// `l2w launch`: the single-machine part of torchrun. It starts one process per rank with torchrun's
// environment (MASTER_ADDR, MASTER_PORT, WORLD_SIZE, RANK, LOCAL_RANK, LOCAL_WORLD_SIZE), waits for
// them, and when one fails gives the others time to report their own error before stopping them.
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace l2w::distributed {

struct LaunchOptions {
  int64_t nproc = 1;      // processes on this machine
  int64_t nnodes = 1;     // machines in the job, each running its own launcher
  int64_t node_rank = 0;  // this machine's index
  std::string master_addr = "127.0.0.1";
  int64_t master_port = 0;  // 0: a free port of this machine (single-machine jobs only)
  // After a rank fails, how long the others may take to stop by themselves before SIGTERM.
  std::chrono::milliseconds grace{std::chrono::seconds(30)};
};

// A TCP port of this machine that is free now (the kernel's pick).
int64_t free_local_port();

// Runs `command` (program and arguments) once per local rank and returns 0 when every rank succeeded,
// else the exit status of the first to fail (128 + signal for a killed one), after reporting it on
// stderr. SIGINT and SIGTERM sent to the launcher are passed on to the ranks.
// The exit status of a training process that stopped on a signal after checkpointing its place:
// EX_TEMPFAIL, "temporary failure, run me again", the status requeueing job scripts test for. The
// launcher passes it on when its ranks stop so.
constexpr int kPreemptedExitStatus = 75;

int launch(const std::vector<std::string>& command, LaunchOptions options);

}  // namespace l2w::distributed
