#include "l2w/serve/load_generator.h"

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <limits>
#include <mutex>
#include <random>
#include <thread>

#include <httplib.h>
#include <nlohmann/json.hpp>

namespace l2w::serve {
namespace {

using Clock = std::chrono::steady_clock;

struct Arrival {
  Clock::time_point at;
  size_t image;
};

// Arrivals handed from the schedule to the connections.
class ArrivalQueue {
 public:
  void push(Arrival a) {
    std::lock_guard<std::mutex> lock(mutex_);
    arrivals_.push_back(a);
    wake_.notify_one();
  }
  void close() {
    std::lock_guard<std::mutex> lock(mutex_);
    closed_ = true;
    wake_.notify_all();
  }
  bool pop(Arrival& a) {
    std::unique_lock<std::mutex> lock(mutex_);
    wake_.wait(lock, [&] { return !arrivals_.empty() || closed_; });
    if (arrivals_.empty()) return false;
    a = arrivals_.front();
    arrivals_.pop_front();
    return true;
  }

 private:
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Arrival> arrivals_;
  bool closed_ = false;
};

void record(LoadReport& report, const httplib::Result& result, const LabelledImage& image, double latency_s) {
  if (!result) {
    const auto error = result.error();
    if (error == httplib::Error::Connection || error == httplib::Error::ConnectionTimeout)
      ++report.connect_failed;
    else if (error == httplib::Error::Read || error == httplib::Error::Write)
      ++report.reset;
    else
      ++report.failed;
    return;
  }
  if (result->status == 503 && result->has_header("Retry-After")) {
    ++report.overloaded;
    return;
  }
  if (result->status != 200) {
    ++report.failed;
    return;
  }
  ++report.answered;
  report.latency_s.push_back(latency_s);
  report.correct += static_cast<int64_t>(json_number(result->body, "class")) == image.label;
  report.muladds += json_number(result->body, "muladds");
  report.budget_muladds.push_back(json_number(result->body, "budget_muladds"));
}

}  // namespace

double json_number(const std::string& json, const std::string& key) {
  const auto parsed = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (!parsed.is_object() || !parsed.contains(key) || !parsed[key].is_number())
    return std::numeric_limits<double>::quiet_NaN();
  return parsed[key].get<double>();
}

LoadReport drive_load(const std::string& host, int port, const std::vector<LabelledImage>& images,
                      const LoadOptions& options) {
  ArrivalQueue arrivals;
  std::mutex report_mutex;
  LoadReport report;
  Clock::time_point last_answer;
  std::vector<std::thread> connections;
  std::mutex connected_mutex;
  std::condition_variable all_connected;
  int connected = 0;
  for (int c = 0; c < options.connections(); ++c) {
    connections.emplace_back([&] {
      const bool keep_alive = !options.new_connection_per_request();
      auto make_client = [&] {
        auto client = std::make_unique<httplib::Client>(host, port);
        client->set_keep_alive(keep_alive);
        client->set_tcp_nodelay(true);  // else Nagle and delayed ACKs add 40 ms to each request
        const auto timeout = std::chrono::duration<double>(options.timeout_s());
        client->set_read_timeout(timeout);
        client->set_write_timeout(timeout);
        client->set_connection_timeout(timeout);
        return client;
      };
      auto client = make_client();
      // Keep-alive clients connect before the first arrival: no burst of connections under load.
      if (keep_alive) client->Get("/healthz");
      {
        std::lock_guard<std::mutex> lock(connected_mutex);
        ++connected;
        all_connected.notify_one();
      }
      for (Arrival a; arrivals.pop(a);) {
        const auto& image = images[a.image];
        if (!keep_alive) client = make_client();
        const auto result = client->Post("/v1/classify", image.body, "application/octet-stream");
        const auto now = Clock::now();
        std::lock_guard<std::mutex> lock(report_mutex);
        record(report, result, image, std::chrono::duration<double>(now - a.at).count());
        last_answer = std::max(last_answer, now);
      }
    });
  }
  {
    std::unique_lock<std::mutex> lock(connected_mutex);
    all_connected.wait(lock, [&] { return connected == options.connections(); });
  }
  std::mt19937_64 rng(options.seed());
  std::exponential_distribution<double> gap(options.rate());
  const auto start = Clock::now();
  auto next = start;
  const auto end = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(options.seconds()));
  for (int64_t i = 0; i < options.max_requests(); ++i) {
    next += std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(gap(rng)));
    if (next > end) break;
    std::this_thread::sleep_until(next);
    arrivals.push({next, static_cast<size_t>(i) % images.size()});
    ++report.sent;
  }
  arrivals.close();
  for (auto& t : connections) t.join();
  report.seconds = std::chrono::duration<double>(last_answer - start).count();
  return report;
}

}  // namespace l2w::serve
