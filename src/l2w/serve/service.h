// A running `l2w serve`: the HTTP server listening on its own thread from the moment the service is
// made (probes answered while the network is still loading), then, once start() is given the warmed-up
// serving stack, the inference queue over it; stop() drains, at any moment.
#pragma once

#include <memory>
#include <optional>
#include <thread>

#include "l2w/serve/http_server.h"
#include "l2w/serve/inference_queue.h"
#include "l2w/serve/serving_stack.h"

namespace l2w::serve {

class Service {
 public:
  // Binds (std::runtime_error naming the address when it cannot) and listens at once.
  explicit Service(ServerOptions options);
  ~Service();  // stop() and join
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

  int port() const { return server_.port(); }
  // The stack is warmed up: its queue (budget `pinned`, or adaptive when -1) takes the requests, and the
  // server reports ready. Once only.
  void start(ServingStack& stack, int64_t pinned);
  bool ready() const { return server_.ready(); }
  // New requests get 503, those in flight are answered, the queue stops; safe at any moment, twice too.
  void stop();
  // Until stop() (from another thread, a signal's) has drained the server.
  void wait();
  const Metrics& metrics() const { return server_.metrics(); }
  // The queue's counts once started (zeros before).
  QueueStatus queue_status() const;

 private:
  Server server_;
  std::thread serving_;
  std::optional<InferenceQueue> queue_;
};

}  // namespace l2w::serve
