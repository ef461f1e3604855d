// Pre-emption: a cluster's scheduler (or Ctrl-C) asks a job to stop with SIGTERM, SIGINT or SIGUSR1. The
// trainer then finishes its current iteration, writes a checkpoint that holds its place in the epoch, and
// stops with kPreemptedExitStatus; the same command run again continues from that iteration and ends
// exactly where an uninterrupted run ends.
#pragma once

#include <stdexcept>
#include <string>

namespace l2w::train {

// EX_TEMPFAIL: "temporary failure, run me again", the status requeueing job scripts test for.
constexpr int kPreemptedExitStatus = 75;

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
