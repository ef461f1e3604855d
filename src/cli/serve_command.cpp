#include <csignal>
#include <cstdlib>
#include <cstdio>
#include <pthread.h>
#include <thread>

#include "command_support.h"
#include "commands.h"
#include "serving.h"

namespace l2w::cli {
namespace {

// SIGTERM and SIGINT go to one thread that drains the server: blocked here, before any thread starts, so
// that every thread inherits the mask and none is interrupted.
sigset_t block_termination_signals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  return signals;
}

void print_serving(const ServeFlags& flags, const serve::ServingStack& s, int64_t pinned, int port) {
  const auto& menu = s.menu();
  const auto& options = s.options();
  const int64_t max_batch = options.controller().max_batch();
  std::printf("l2w serve: %s, %s, exit criterion %s\n", flags.common.evaluate_from.c_str(), s.network_report().c_str(),
              criterion::exit_criterion_name(menu.criterion).c_str());
  std::printf("  precision    %s\n", s.precision_report().c_str());
  std::printf("  threads      %s\n", s.threads_report().c_str());
  std::printf("  budgets      %s; %.3f M to %.3f M MUL-ADDs per image (full network %.3f M)\n", s.menu_report().c_str(),
              menu.budgets.front().valid_expected_muladds / 1e6, menu.budgets.back().valid_expected_muladds / 1e6,
              static_cast<double>(menu.full_muladds) / 1e6);
  if (pinned < 0)
    std::printf("  batch time   %lld images: cheapest budget %.2f ms, full network %.2f ms (%.0f images/s)\n",
                static_cast<long long>(max_batch), 1e3 * s.times().front().of(max_batch),
                1e3 * s.times().back().of(max_batch), s.full_capacity());
  if (pinned >= 0)
    std::printf("  budget       pinned: %.3f M MUL-ADDs (--budget)\n", menu.budgets[pinned].valid_expected_muladds / 1e6);
  else
    std::printf("  budget       adaptive to a latency target of %.1f ms\n", 1e3 * options.controller().slo_s());
  std::printf("listening on http://%s:%d (POST /v1/classify, GET /v1/status, /metrics, /healthz, /readyz): ready\n",
              options.server().bind().c_str(), port);
  std::fflush(stdout);
}

int run_serve(const ServeFlags& flags) {
  sigset_t signals = block_termination_signals();
  if (flags.common.evaluate_from.empty()) throw FlagError("--evaluate_from: a checkpoint to serve is required");
  // Listening from the start: /healthz answers and /readyz says 503 while the network is loaded, its
  // budgets fitted and the engine warmed up, so that a probe can tell "starting" from "dead".
  auto server_options = flags.serving.server();
  serve::Service service(server_options.model(flags.common.evaluate_from));
  std::printf("l2w serve: listening on http://%s:%d, starting\n", server_options.bind().c_str(), service.port());
  std::fflush(stdout);
  std::thread([&] {
    int signal = 0;
    sigwait(&signals, &signal);
    const char* name = signal == SIGTERM ? "SIGTERM" : "SIGINT";
    if (!service.ready()) {
      // Nothing is served yet and nothing is left half-written (every file is written whole or not at
      // all): stop at once rather than after loading, fitting or warming up.
      std::printf("l2w serve: %s during start-up: stopped\n", name);
      std::fflush(stdout);
      std::_Exit(0);
    }
    std::printf("l2w serve: %s: finishing the requests in flight\n", name);
    std::fflush(stdout);
    service.stop();
  }).detach();
  Serving s = prepare_serving(flags);
  const int64_t pinned = pinned_budget(s);
  warm_up(s);
  service.start(*s.stack, pinned);
  print_serving(flags, *s.stack, pinned, service.port());
  service.wait();
  const auto q = service.queue_status();
  std::printf("l2w serve: stopped after %lld images in %lld batches (classification answers: %lld with 200, %lld with 503)\n",
              static_cast<long long>(q.served_images), static_cast<long long>(q.batches),
              static_cast<long long>(service.metrics().responses("classify", 200)),
              static_cast<long long>(service.metrics().responses("classify", 503)));
  return 0;
}

}  // namespace

Subcommand add_serve_command(CLI::App& parent) {
  auto flags = std::make_shared<ServeFlags>();
  auto* app = parent.add_subcommand("serve", "an HTTP classifier whose budget falls as load rises to keep --slo-ms");
  add_server_flags(*app, *flags, /*listening=*/true);
  return {app, [flags, app] {
            apply_data_defaults(*app, flags->common);
            return run_serve(*flags);
          }};
}

}  // namespace l2w::cli
