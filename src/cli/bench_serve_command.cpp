#include <cstdio>
#include <sstream>
#include <thread>

#include "command_support.h"
#include "commands.h"
#include "l2w/dataset/image_decoding.h"
#include "l2w/dataset/image_folder.h"
#include "l2w/infer/speed_test.h"
#include "l2w/serve/load_generator.h"
#include "serving.h"

namespace l2w::cli {
namespace {

// How bench serve's clients connect (--client).
enum class ClientMode { kKeepAlive, kNewConnection, kBoth };
const Choices<ClientMode> kClientModes{
    {"keep-alive", ClientMode::kKeepAlive}, {"new-connection", ClientMode::kNewConnection}, {"both", ClientMode::kBoth}};

struct BenchServeFlags {
  ServeFlags serving;
  std::string loads = "0.25,1.5";  // offered loads, shares of the full network's capacity
  double seconds = 5;              // each load's duration
  ClientMode client_mode = ClientMode::kBoth;
  int64_t clients = 128;  // client threads
};

// Test images as the client sends them: PNG (lossless, so the server sees the data set's pixels), or an
// image folder's own files.
std::vector<serve::LabelledImage> request_bodies(const dataset::ImageDataset& test, int64_t n) {
  n = std::min(n, test.size());
  std::vector<serve::LabelledImage> out;
  for (int64_t i = 0; i < n; ++i) {
    serve::LabelledImage image;
    image.label = test.labels[i].item<int64_t>();
    if (test.folder) {
      const auto bytes = dataset::read_file(test.folder->files[i]);
      image.body.assign(bytes.begin(), bytes.end());
    } else {
      const auto chw = test.images[i].contiguous();
      dataset::RgbImage rgb;
      rgb.channels = static_cast<int>(chw.size(0));
      rgb.height = chw.size(1), rgb.width = chw.size(2);
      rgb.pixels = std::vector<uint8_t>(static_cast<size_t>(rgb.height * rgb.width * 3));
      const auto* p = chw.data_ptr<uint8_t>();
      for (int64_t y = 0; y < rgb.height * rgb.width; ++y)
        for (int c = 0; c < 3; ++c) rgb.pixels[y * 3 + c] = p[(rgb.channels == 1 ? 0 : c) * rgb.height * rgb.width + y];
      const auto png = dataset::encode_png(rgb);
      image.body.assign(png.begin(), png.end());
    }
    out.push_back(std::move(image));
  }
  return out;
}

// One run of the server on loopback under the load; returns the client's report.
serve::LoadReport run_load(const BenchServeFlags& flags, serve::ServingStack& s, int64_t pinned, double rate,
                           const std::vector<serve::LabelledImage>& images, double seconds, bool new_connections) {
  auto options = s.options().server();
  serve::Service service(options.bind("127.0.0.1").port(0).access_log(""));
  service.start(s, pinned);  // the stack is warmed up
  const auto load = serve::LoadOptions()
                        .rate(rate)
                        .seconds(seconds)
                        .seed(flags.serving.common.run.seed())
                        .connections(static_cast<int>(flags.clients))
                        .new_connection_per_request(new_connections);
  return serve::drive_load("127.0.0.1", service.port(), images, load);
}

// The offered loads as shares of the full network's capacity (0.25,1.5).
std::vector<double> parse_loads(const std::string& text) {
  try {
    return options::parse_number_list("--loads", text, options::Check::kPositive);
  } catch (const options::OptionError& e) {
    throw FlagError(e.what());
  }
}

void print_row(const char* mode, const serve::LoadReport& r, double slo_ms) {
  const double p50 = r.latency_s.empty() ? 0 : 1e3 * infer::percentile(r.latency_s, 50);
  const double p99 = r.latency_s.empty() ? 0 : 1e3 * infer::percentile(r.latency_s, 99);
  const double budget = r.budget_muladds.empty() ? 0 : infer::percentile(r.budget_muladds, 50);
  const double sent = static_cast<double>(std::max<int64_t>(1, r.sent));
  const double answered = static_cast<double>(std::max<int64_t>(1, r.answered));
  std::printf("  %-9s %6lld %8.1f %8.2f %8.2f %-4s %9.3f %9.3f %8.2f %6.1f %6lld %7lld %6lld\n", mode,
              static_cast<long long>(r.sent), r.throughput(), p50, p99,
              p99 <= slo_ms && r.overloaded == 0 ? "yes" : "no", budget / 1e6, r.muladds / answered / 1e6,
              100.0 * static_cast<double>(r.correct) / answered, 100.0 * static_cast<double>(r.overloaded) / sent,
              static_cast<long long>(r.reset), static_cast<long long>(r.connect_failed), static_cast<long long>(r.failed));
}

int bench_serve(const BenchServeFlags& flags) {
  const auto loads = parse_loads(flags.loads);
  Serving serving = prepare_serving(flags.serving);
  warm_up(serving);
  auto& s = *serving.stack;
  const int64_t pinned = pinned_budget(serving);
  const double slo_ms = 1e3 * s.options().controller().slo_s();
  const auto images = request_bodies(*serving.data.test, 1000);
  const int64_t full = static_cast<int64_t>(s.menu().budgets.size()) - 1;
  print_machine(s.network().net->parameters().front().device());
  // The capacity loads are shares of: what the server pinned at the full network answers per second when
  // offered 1.5 times what its engine alone sustains, HTTP and this client included.
  const double engine_capacity = s.full_capacity();
  const double capacity = run_load(flags, s, full, 1.5 * engine_capacity, images, 3, false).throughput();
  std::printf("bench serve: %s, %s, precision %s; budgets: %s; %zu test images as requests; the full network's engine sustains %.0f "
              "images/s in batches of %lld, the server pinned at it %.0f requests/s (both measured: the capacity "
              "below); latency target %.1f ms; %.1f s per load\n",
              flags.serving.common.evaluate_from.c_str(), s.network_report().c_str(), s.precision_report().c_str(),
              s.menu_report().c_str(), images.size(),
              engine_capacity, static_cast<long long>(s.options().controller().max_batch()), capacity, slo_ms,
              flags.seconds);
  std::vector<bool> client_modes;  // new connection per request?
  if (flags.client_mode != ClientMode::kNewConnection) client_modes.push_back(false);
  if (flags.client_mode != ClientMode::kKeepAlive) client_modes.push_back(true);
  for (const double load : loads) {
    const double rate = load * capacity;
    for (const bool new_connections : client_modes) {
      std::printf("\noffered load %.2fx capacity: %.0f requests/s (Poisson, one image each), %lld clients, %s\n", load,
                  rate, static_cast<long long>(flags.clients),
                  new_connections ? "a new connection per request" : "keep-alive connections");
      std::printf("  %-9s %6s %8s %8s %8s %-4s %9s %9s %8s %6s %6s %7s %6s\n", "mode", "sent", "req/s", "p50 ms", "p99 ms",
                  "slo", "budget M", "mean M", "top-1 %", "503 %", "reset", "no conn", "failed");
      print_row("adaptive", run_load(flags, s, pinned, rate, images, flags.seconds, new_connections), slo_ms);
      print_row("full", run_load(flags, s, full, rate, images, flags.seconds, new_connections), slo_ms);
    }
  }
  std::printf("\nbudget M: the median budget the answers were served at (MUL-ADDs per image on the validation images);\n"
              "mean M: MUL-ADDs the served images cost; slo: p99 within --slo-ms with no 503s; reset: connections\n"
              "reset, closed or timed out after connecting; no conn: connections refused or not accepted in time;\n"
              "failed: any other answer than 200 or 503 with Retry-After.\n");
  return 0;
}

}  // namespace

Subcommand add_bench_serve_command(CLI::App& parent) {
  auto flags = std::make_shared<BenchServeFlags>();
  auto* app = parent.add_subcommand(
      "serve", "the server on loopback under Poisson load: latency, budget, accuracy, adaptive against pinned");
  add_server_flags(*app, flags->serving, /*listening=*/false);
  app->add_option("--loads", flags->loads, "offered loads as shares of the full network's capacity (default 0.25,1.5)");
  app->add_option("--seconds", flags->seconds, "duration of each load")->check(kPositive);
  add_choice(*app, "--client", flags->client_mode, kClientModes,
             "keep-alive: a connection per client, kept open; new-connection: a new one per request; both")
      ->default_str(word_for(kClientModes, flags->client_mode));
  app->add_option("--clients", flags->clients, "client threads, each with one request in flight")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  return {app, [flags, app] {
            apply_data_defaults(*app, flags->serving.common);
            return bench_serve(*flags);
          }};
}

}  // namespace l2w::cli
