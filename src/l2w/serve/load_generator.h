// `l2w bench serve`'s client (docs/serving.md): an open loop, so that a slow server does not slow the
// offered load down. Requests arrive as a Poisson process at the given rate, for a bounded time and count;
// each is sent as soon as a connection is free, and its latency is counted from its arrival, the wait for
// a connection included. Traffic goes to the given host, which the benchmark keeps to 127.0.0.1.
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
  TORCH_ARG(int, connections) = 128;        // requests in flight at most (keep-alive connections)
  TORCH_ARG(double, timeout_s) = 10;        // per request
  TORCH_ARG(uint64_t, seed) = 1;
};

// One image to send (PNG or JPEG bytes) and its label.
struct LabelledImage {
  std::string body;
  int64_t label = 0;
};

struct LoadReport {
  int64_t sent = 0, answered = 0, overloaded = 0, failed = 0;  // 200, 503, anything else
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

// The number after "key": in a flat JSON object (the server's answers), or NaN.
double json_number(const std::string& json, const std::string& key);

}  // namespace l2w::serve
