#include "l2w/train/preemption.h"

#include <signal.h>

#include <csignal>

namespace l2w::train {
namespace {

volatile std::sig_atomic_t g_received = 0;
constexpr int kSignals[] = {SIGTERM, SIGINT, SIGUSR1};
struct sigaction g_previous[3];

void record(int signal) {
  if (g_received == 0) g_received = signal;
}

}  // namespace

StopSignals::StopSignals() {
  g_received = 0;
  struct sigaction action {};
  action.sa_handler = record;
  action.sa_flags = SA_RESETHAND;  // a second signal acts as if we had not asked
  sigemptyset(&action.sa_mask);
  for (int i = 0; i < 3; ++i) ::sigaction(kSignals[i], &action, &g_previous[i]);
}

StopSignals::~StopSignals() {
  for (int i = 0; i < 3; ++i) ::sigaction(kSignals[i], &g_previous[i], nullptr);
}

int StopSignals::received() { return g_received; }

}  // namespace l2w::train
