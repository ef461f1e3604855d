// `l2w serve`'s HTTP/1.1 front (docs/serving.md), on cpp-httplib: each connection is a thread of its pool
// that decodes its request's images and waits for the inference queue to answer them.
//
//   POST /v1/classify  an image (PNG or JPEG bytes) as the body, or several as multipart/form-data parts
//                      (answered in the order sent; give them one name, e.g. `image`)
//   GET  /v1/status    model, budget now, queue, counts (JSON)
//   GET  /metrics      Prometheus text
//   GET  /healthz      liveness: 200 while the process serves HTTP at all
//   GET  /readyz       readiness: 200 once warmed up (set_ready), 503 before and while draining
//
// Every body is JSON written by nlohmann/json (but /metrics and the probes' plain text). 400 for an image
// the network cannot take (the reason in the body), 413 for a body over the limit, 503 with Retry-After
// when the queue is full, before the server is ready, or while it shuts down. Each response carries an
// X-Request-Id: the request's own, or one made here; classification answers repeat it in their JSON.
#pragma once

#include <atomic>
#include <fstream>
#include <memory>
#include <mutex>
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
  // Connections served at once: a keep-alive connection holds a thread while it is open, and one that
  // finds none free waits, so this stays above the clients' connections (256 in the burst tests).
  TORCH_ARG(int, connection_threads) = 512;
  TORCH_ARG(std::string, model) = "";          // what /v1/status names
  // A file to append one line per request to (empty: none): time, request id, method and path, status,
  // exits taken, latency in ms, tab-separated.
  TORCH_ARG(std::string, access_log) = "";
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
  // Whether the network is warmed up: until then /readyz and classification answer 503.
  void set_ready(bool ready) { ready_ = ready; }
  int port() const { return port_; }
  const Metrics& metrics() const { return metrics_; }

 private:
  void classify(const httplib::Request& request, httplib::Response& response);
  std::string status_json() const;
  void log_access(const httplib::Request& request, const httplib::Response& response);

  InferenceQueue& queue_;
  const BudgetMenu& menu_;
  InputFormat format_;
  ServerOptions options_;
  Metrics metrics_;
  std::unique_ptr<httplib::Server> http_;
  std::atomic<bool> draining_{false}, ready_{false};
  std::unique_ptr<std::ofstream> access_log_;
  std::mutex access_log_mutex_;
  std::atomic<int64_t> in_flight_{0};
  int port_ = 0;
  int listening_socket_ = -1;
};

}  // namespace l2w::serve
