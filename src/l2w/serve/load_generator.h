// `l2w bench serve`'s client (docs/serving.md): an open loop, so that a slow server does not slow the
// offered load down. Requests arrive as a Poisson process at the given rate, for a bounded time and count;
// each is sent as soon as a client is free, and its latency is counted from its arrival, the wait for a
// client included. Each client keeps one connection open (keep-alive), or opens a new one per request as
// most scripts and many services do. Traffic goes to the given host, which the benchmark keeps to 127.0.0.1.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <torch/arg.h>

namespace l2w::serve {

struct LoadOptions {
  TORCH_ARG(double, rate) = 100;            // requests per second
  TORCH_ARG(double, seconds) = 5;           // arrivals stop after this
  TORCH_ARG(int64_t, max_requests) = 5000;  // or after this many
  TORCH_ARG(int, connections) = 128;        // requests in flight at most (one client each)
  // A new connection for every request (closed after its answer) instead of one kept open per client.
  TORCH_ARG(bool, new_connection_per_request) = false;
  TORCH_ARG(double, timeout_s) = 10;        // per request
  TORCH_ARG(uint64_t, seed) = 1;
};

// One image to send (PNG or JPEG bytes) and its label.
struct LabelledImage {
  std::string body;
  int64_t label = 0;
};

struct LoadReport {
  int64_t sent = 0, answered = 0, overloaded = 0;  // sent; answered with 200; with 503
  int64_t reset = 0;           // the connection failed while sending or reading (reset, closed, timed out)
  int64_t connect_failed = 0;  // no connection (refused, or not accepted in time)
  int64_t failed = 0;          // any other answer (another status, a 503 without Retry-After)
  int64_t correct = 0;                    // of the answered
  double seconds = 0;                     // from the first arrival to the last answer
  std::vector<double> latency_s;          // of the answered, from arrival
  std::vector<double> budget_muladds;     // each answer's budget
  double muladds = 0;                     // summed over the answered images
  double throughput() const { return seconds > 0 ? static_cast<double>(answered) / seconds : 0; }
};

// Sends images (cycling through `images`) to POST http://host:port/v1/classify.
LoadReport drive_load(const std::string& host, int port, const std::vector<LabelledImage>& images,
                      const LoadOptions& options);

// The number under `key` in a JSON object (the server's answers), or NaN when the text is not JSON or the
// key is missing or not a number.
double json_number(const std::string& json, const std::string& key);

}  // namespace l2w::serve
