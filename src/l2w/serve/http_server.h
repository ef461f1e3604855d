// `l2w serve`'s HTTP/1.1 front (docs/serving.md), on cpp-httplib: each connection is a thread of its pool
// that decodes its request's images and waits for the inference queue to answer them.
//
//   POST /v1/classify  an image (PNG or JPEG bytes) as the body, or several as multipart/form-data parts
//                      (answered in the order sent; give them one name, e.g. `image`)
//   GET  /v1/status    model, budget now, queue, counts (JSON)
//   GET  /metrics      Prometheus text
//   GET  /healthz      "ok" while serving
//
// 400 for an image the network cannot take (the reason in the body), 413 for a body over the limit, 503
// with Retry-After when the queue is full or the server is shutting down.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include <torch/arg.h>

#include "l2w/serve/budget_menu.h"
#include "l2w/serve/image_input.h"
#include "l2w/serve/inference_queue.h"
#include "l2w/serve/metrics.h"

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace l2w::serve {

struct ServerOptions {
  TORCH_ARG(std::string, bind) = "127.0.0.1";  // loopback unless asked otherwise
  TORCH_ARG(int, port) = 8080;                 // 0: a free one (port() says which)
  TORCH_ARG(int64_t, max_body_bytes) = 8 << 20;
  TORCH_ARG(int, connection_threads) = 192;    // connections served at once (keep-alive holds one each)
  TORCH_ARG(std::string, model) = "";          // what /v1/status names
};

class Server {
 public:
  Server(InferenceQueue& queue, const BudgetMenu& menu, InputFormat format, ServerOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds the address; std::runtime_error naming it when it cannot. Returns the port.
  int bind();
  // Serves until shutdown() (from another thread) has drained the requests in flight.
  void run();
  // New classification requests get 503; those in flight are answered; then run() returns.
  void shutdown();
  int port() const { return port_; }
  const Metrics& metrics() const { return metrics_; }

 private:
  void classify(const httplib::Request& request, httplib::Response& response);
  std::string status_json() const;

  InferenceQueue& queue_;
  const BudgetMenu& menu_;
  InputFormat format_;
  ServerOptions options_;
  Metrics metrics_;
  std::unique_ptr<httplib::Server> http_;
  std::atomic<bool> draining_{false};
  std::atomic<int64_t> in_flight_{0};
  int port_ = 0;
};

}  // namespace l2w::serve
