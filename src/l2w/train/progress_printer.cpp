#include "l2w/train/progress_printer.h"

#include <cstdio>
#include <iostream>
#include <sstream>

namespace l2w::train {
namespace {

double seconds_between(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

}  // namespace

std::string format_duration(double s) {
  char buf[32];
  const auto total = static_cast<long long>(s);
  std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", total / 3600, (total / 60) % 60, total % 60);
  return buf;
}

ProgressPrinter::ProgressPrinter(int64_t epochs, int64_t iterations_per_epoch, int64_t samples_per_epoch,
                                 int64_t world_size, int64_t print_freq, bool quiet)
    : epochs_(epochs),
      iterations_(iterations_per_epoch),
      samples_per_epoch_(samples_per_epoch),
      world_(world_size),
      print_freq_(print_freq),
      quiet_(quiet) {}

void ProgressPrinter::start_epoch(int64_t epoch) {
  epoch_ = epoch;
  window_start_ = Clock::now();
  window_images_ = 0;
}

void ProgressPrinter::iteration_done(int64_t iteration, int64_t images, double lr, EpochMeter& meter) {
  window_images_ += images;
  images_seen_ += images;
  const int64_t done = iteration + 1;
  if (quiet_ || print_freq_ <= 0 || (done % print_freq_ != 0 && done != iterations_)) return;
  meter.read();
  std::cout << line(done, lr, meter) << std::endl;
  window_start_ = Clock::now();
  window_images_ = 0;
}

std::string ProgressPrinter::line(int64_t done, double lr, const EpochMeter& meter) const {
  const auto now = Clock::now();
  const double rate = double(world_ * window_images_) / seconds_between(window_start_, now);
  const double overall = double(images_seen_) / seconds_between(run_start_, now);
  const double remaining = double((epochs_ - epoch_) * samples_per_epoch_) - double(meter.samples);
  std::ostringstream out;
  char buf[64];
  out << "Epoch [" << epoch_ + 1 << "/" << epochs_ << "][" << done << "/" << iterations_ << "] lr " << lr << "  loss";
  for (size_t k = 0; k < meter.loss.size(); ++k) {
    std::snprintf(buf, sizeof buf, " %.3f", meter.mean_loss(k));
    out << buf;
  }
  out << "  top1";
  for (size_t k = 0; k < meter.loss.size(); ++k) {
    std::snprintf(buf, sizeof buf, " %.1f", meter.top1(k));
    out << buf;
  }
  if (meter.meta_steps) {
    std::snprintf(buf, sizeof buf, "  meta %.4f", meter.mean_meta_loss());
    out << buf;
  }
  std::snprintf(buf, sizeof buf, "  %.1f img/s  ETA %s", rate, format_duration(remaining / overall).c_str());
  return out.str() + buf;
}

}  // namespace l2w::train
