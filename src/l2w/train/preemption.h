// Pre-emption: a cluster's scheduler (or Ctrl-C) asks a job to stop with SIGTERM, SIGINT or SIGUSR1. The
// trainer then finishes its current iteration, writes a checkpoint that holds its place in the epoch, and
// stops with kPreemptedExitStatus; the same command run again continues from that iteration and ends
// exactly where an uninterrupted run ends.
#pragma once

#include <stdexcept>
#include <string>

#include "l2w/distributed/launcher.h"

namespace l2w::train {

// EX_TEMPFAIL (75), which l2w launch passes on.
constexpr int kPreemptedExitStatus = distributed::kPreemptedExitStatus;

// While one lives, SIGTERM, SIGINT and SIGUSR1 are recorded instead of ending the process; a second
// SIGINT or SIGTERM does end it (the handlers reset), for a user who means it. The previous handlers
// come back when it is destroyed.
class StopSignals {
 public:
  StopSignals();
  ~StopSignals();
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

  // The first recorded signal's number, or 0.
  static int received();
};

// Thrown by the trainer once it has written its pre-emption checkpoint: the message is the one line to show.
class Preempted : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace l2w::train
