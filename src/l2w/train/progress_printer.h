// The progress line printed every `print_freq` iterations: the epoch's running per-exit losses and top-1,
// the meta loss, throughput over the last lines and the time left at the run's average speed.
#pragma once

#include <chrono>
#include <string>

#include "l2w/train/epoch_meter.h"

namespace l2w::train {

class ProgressPrinter {
 public:
  // `world_size` processes train as many images as this one; `epochs` and `samples_per_epoch` (of this
  // rank) size the time left.
  ProgressPrinter(int64_t epochs, int64_t iterations_per_epoch, int64_t samples_per_epoch, int64_t world_size,
                  int64_t print_freq, bool quiet);

  void start_epoch(int64_t epoch);
  // After each iteration: counts its images, and prints a line when one is due (reading the meter).
  void iteration_done(int64_t iteration, int64_t images, double lr, EpochMeter& meter);

 private:
  using Clock = std::chrono::steady_clock;
  std::string line(int64_t iteration, double lr, const EpochMeter& meter) const;

  int64_t epochs_, iterations_, samples_per_epoch_, world_, print_freq_;
  bool quiet_;
  int64_t epoch_ = 0;
  int64_t images_seen_ = 0;    // since this process's first iteration
  int64_t window_images_ = 0;  // since the last line
  Clock::time_point run_start_ = Clock::now(), window_start_ = Clock::now();
};

// h:mm:ss
std::string format_duration(double seconds);

}  // namespace l2w::train
