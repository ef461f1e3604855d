#include "l2w/serve/service.h"

namespace l2w::serve {

Service::Service(ServerOptions options) : server_(std::move(options)) {
  server_.bind();
  serving_ = std::thread([this] { server_.run(); });
}

Service::~Service() {
  stop();
  wait();
}

void Service::start(ServingStack& stack, int64_t pinned) {
  queue_.emplace(stack.batch_engine(), stack.controller(pinned), stack.options().queue());
  queue_->set_service_times(stack.times());
  server_.attach(*queue_, stack.menu(), stack.format());
  server_.set_ready(true);
}

void Service::stop() { server_.shutdown(); }

void Service::wait() {
  if (serving_.joinable()) serving_.join();
  if (queue_) queue_->stop();
}

QueueStatus Service::queue_status() const { return queue_ ? queue_->status() : QueueStatus{}; }

}  // namespace l2w::serve
