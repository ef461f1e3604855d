// `l2w serve`'s HTTP/1.1 front (docs/serving.md), on cpp-httplib: each connection is a thread of its pool
// that decodes its request's images and waits for the inference queue to answer them.
//
//   POST /v1/classify  an image (PNG or JPEG bytes) as the body, or several as multipart/form-data parts
//                      (answered in the order sent; give them one name, e.g. `image`)
//   GET  /v1/status    model, state, budget now, queue, counts (JSON)
//   GET  /metrics      Prometheus text
//   GET  /healthz      liveness: 200 while the process serves HTTP at all, from the moment it listens
//   GET  /readyz       readiness: 200 once warmed up (set_ready), 503 before and while draining
//
// The server listens before the network is loaded (attach() gives it the queue later), so that a probe
// can tell "starting" from "dead". Every body is JSON written by nlohmann/json (but /metrics and the
// probes' plain text). 400 for an image the network cannot take (the reason in the body), 411 for a
// request body without a Content-Length, 413 for a body or an image over the limits (checked from the
// headers, before the body is read or the image decoded), 503 with Retry-After when the queue is full,
// before the server is ready, or while it shuts down. Each response carries an X-Request-Id: the
// request's own, or one made here; classification answers repeat it in their JSON. A client that
// half-closes its connection after sending its request still gets the answer.
#pragma once

#include <atomic>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>

#include <torch/arg.h>

#include "l2w/dataset/image_decoding.h"
#include "l2w/serve/budget_menu.h"
#include "l2w/serve/image_input.h"
#include "l2w/serve/inference_queue.h"
#include "l2w/serve/metrics.h"

namespace httplib {
struct Request;
struct Response;
}  // namespace httplib

namespace l2w::serve {

struct ServerOptions {
  TORCH_ARG(std::string, bind) = "127.0.0.1";  // loopback unless asked otherwise
  TORCH_ARG(int, port) = 8080;                 // 0: a free one (port() says which)
  TORCH_ARG(int64_t, max_body_bytes) = 8 << 20;
  // Images whose headers declare more pixels are answered 413 without being decoded (Pillow's limit).
  TORCH_ARG(int64_t, max_image_pixels) = dataset::kMaxImagePixels;
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
  // A server that answers probes and refuses classification (503) until attach() and set_ready().
  explicit Server(ServerOptions options);
  // A server attached to `queue` at once.
  Server(InferenceQueue& queue, const BudgetMenu& menu, InputFormat format, ServerOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds the address; std::runtime_error naming it when it cannot. Returns the port.
  int bind();
  // Serves until shutdown() (from another thread) has drained the requests in flight; returns at once
  // when shutdown() came first.
  void run();
  // New classification requests get 503; those in flight are answered; then run() returns. Safe at any
  // moment, before run() too.
  void shutdown();
  // The network is loaded: classification requests go to `queue`, whose menu and input format these
  // are. Once only; all three must outlive the server.
  void attach(InferenceQueue& queue, const BudgetMenu& menu, InputFormat format);
  // Whether the network is warmed up: until then /readyz and classification answer 503.
  void set_ready(bool ready) { ready_ = ready; }
  bool ready() const { return ready_ && !draining_; }
  int port() const { return port_; }
  const Metrics& metrics() const { return metrics_; }

 private:
  struct Backend {
    InferenceQueue* queue;
    const BudgetMenu* menu;
    InputFormat format;
  };
  class Http;

  void classify(const httplib::Request& request, httplib::Response& response);
  bool refuse_unreadable_body(const httplib::Request& request, httplib::Response& response) const;
  std::string state() const;
  std::string status_json() const;
  void count(const httplib::Request& request, const httplib::Response& response);
  void log_access(const httplib::Request& request, const httplib::Response& response);

  ServerOptions options_;
  Metrics metrics_;
  std::unique_ptr<Backend> backend_storage_;
  std::atomic<const Backend*> backend_{nullptr};
  std::unique_ptr<Http> http_;
  std::atomic<bool> draining_{false}, ready_{false};
  std::mutex run_mutex_;  // orders run() against shutdown()
  std::atomic<bool> running_{false}, ran_{false};
  std::unique_ptr<std::ofstream> access_log_;
  std::mutex access_log_mutex_;
  std::atomic<int64_t> in_flight_{0};
  int port_ = 0;
  int listening_socket_ = -1;
};

}  // namespace l2w::serve
