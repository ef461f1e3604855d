#include "l2w/serve/http_server.h"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <cstdio>
#include <ctime>
#include <random>
#include <thread>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "l2w/criterion/exit_criterion.h"

namespace l2w::serve {
namespace {

using Clock = std::chrono::steady_clock;
using Json = nlohmann::ordered_json;

// What one request's thread knows about it between routing and the access log: a connection's requests
// run one after another on one thread.
struct RequestTrace {
  Clock::time_point start;
  std::string exits;    // the exits its images took, 1-based, comma-separated
  std::string outcome;  // what the metrics call the answer, where the status alone does not say
  bool close = false;   // answered before its body was read: the connection cannot go on
};
thread_local RequestTrace trace;

// The endpoint a path names, for the metrics.
std::string endpoint(const std::string& path) {
  for (const char* known : {"/v1/classify", "/v1/status", "/metrics", "/healthz", "/readyz"})
    if (path == known) return std::string(known).substr(std::string(known).rfind('/') + 1);
  return "other";
}

std::string outcome(int status) {
  if (status == 200) return "ok";
  if (status == 411 || status == 413) return "too_large";
  if (status == 503) return "overloaded";
  if (status >= 400 && status < 500) return "bad_request";
  return "error";
}

// Waits up to `timeout_ms` for `events` on `sock`; false on timeout or error.
bool wait_for(int sock, short events, int timeout_ms) {
  pollfd p{sock, events, 0};
  for (;;) {
    const int n = ::poll(&p, 1, timeout_ms);
    if (n < 0 && errno == EINTR) continue;
    return n > 0;
  }
}

// A connection as cpp-httplib reads and writes it, but writable while the client has only closed its
// sending side: httplib's own stream takes a client's end of file for a dead connection and drops the
// answer, which HTTP/1.0 clients and some load balancers, who half-close after sending, never get.
class ConnectionStream final : public httplib::Stream {
 public:
  ConnectionStream(int sock, int read_timeout_ms, int write_timeout_ms)
      : sock_(sock), read_timeout_ms_(read_timeout_ms), write_timeout_ms_(write_timeout_ms) {}

  bool is_readable() const override { return begin_ < end_ || wait_for(sock_, POLLIN, read_timeout_ms_); }
  bool is_writable() const override { return wait_for(sock_, POLLOUT, write_timeout_ms_); }

  ssize_t read(char* out, size_t size) override {
    if (begin_ == end_) {  // buffered: httplib reads its request line and headers a byte at a time
      if (!is_readable()) return -1;
      ssize_t n;
      do n = ::recv(sock_, buffer_, sizeof buffer_, 0);
      while (n < 0 && errno == EINTR);
      if (n <= 0) return n;
      begin_ = 0, end_ = static_cast<size_t>(n);
    }
    const size_t n = std::min(size, end_ - begin_);
    std::memcpy(out, buffer_ + begin_, n);
    begin_ += n;
    return static_cast<ssize_t>(n);
  }

  ssize_t write(const char* data, size_t size) override {
    if (!is_writable()) return -1;
    ssize_t n;
    do n = ::send(sock_, data, size, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    return n;
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override { address(::getpeername, ip, port); }
  void get_local_ip_and_port(std::string& ip, int& port) const override { address(::getsockname, ip, port); }
  socket_t socket() const override { return sock_; }

 private:
  template <class Query>
  void address(Query query, std::string& ip, int& port) const {
    sockaddr_storage a{};
    socklen_t length = sizeof a;
    char host[NI_MAXHOST] = "", service[NI_MAXSERV] = "";
    if (query(sock_, reinterpret_cast<sockaddr*>(&a), &length) != 0 ||
        ::getnameinfo(reinterpret_cast<sockaddr*>(&a), length, host, sizeof host, service, sizeof service,
                      NI_NUMERICHOST | NI_NUMERICSERV) != 0)
      return;
    ip = host, port = std::atoi(service);
  }

  int sock_, read_timeout_ms_, write_timeout_ms_;
  char buffer_[4096];
  size_t begin_ = 0, end_ = 0;
};

// After an answer sent before the request's body was read: stop sending, then read and drop what the
// client still sends for a moment, so that closing does not reset the connection before the client has
// read the answer.
void linger(int sock) {
  ::shutdown(sock, SHUT_WR);
  char sink[4096];
  const auto until = Clock::now() + std::chrono::seconds(2);
  while (Clock::now() < until && wait_for(sock, POLLIN, 100)) {
    if (::recv(sock, sink, sizeof sink, 0) <= 0) break;
  }
}

Json image_json(const ImageResult& r, const Served& s, const BudgetMenu& menu) {
  return Json{{"class", r.prediction},
              {"confidence", r.confidence},
              {"exit", r.exit + 1},
              {"muladds", r.muladds},
              {"budget_muladds", menu.budgets[s.budget].valid_expected_muladds},
              {"queue_ms", 1e3 * s.queue_s},
              {"compute_ms", 1e3 * s.compute_s},
              {"batch", s.batch_images}};
}

void answer_json(httplib::Response& res, const Json& body) {
  // Invalid UTF-8 (a model path in another encoding) is replaced rather than thrown on.
  res.set_content(body.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n", "application/json");
}

void answer_error(httplib::Response& res, int status, const std::string& why) {
  res.status = status;
  Json body{{"error", why}};
  if (res.has_header("X-Request-Id")) body["request_id"] = res.get_header_value("X-Request-Id");
  answer_json(res, body);
}

void refuse_overloaded(httplib::Response& res, const std::string& why) {
  res.set_header("Retry-After", "1");
  answer_error(res, 503, why);
}

// The request's image bodies: the body itself, or each multipart part in the order sent.
std::vector<const std::string*> image_bodies(const httplib::Request& req) {
  std::vector<const std::string*> bodies;
  if (req.is_multipart_form_data()) {
    for (const auto& [name, part] : req.files) bodies.push_back(&part.content);
  } else {
    bodies.push_back(&req.body);
  }
  return bodies;
}

// The client's X-Request-Id when it is a sensible token (printable ASCII, at most 128 characters), else
// a fresh one: 16 hexadecimal digits, unique within the process and unlikely to repeat across processes.
std::string request_id(const httplib::Request& req) {
  const auto given = req.get_header_value("X-Request-Id");
  const bool usable = !given.empty() && given.size() <= 128 &&
                      std::all_of(given.begin(), given.end(), [](char c) { return c > 0x20 && c < 0x7f; });
  if (usable) return given;
  static const uint64_t process_salt = std::random_device()() * 0x9e3779b97f4a7c15ull ^ uint64_t(::getpid());
  static std::atomic<uint64_t> counter{0};
  uint64_t x = process_salt + 0x9e3779b97f4a7c15ull * ++counter;  // splitmix64: distinct counters, distinct ids
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  x ^= x >> 31;
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(x));
  return text;
}

// ISO 8601 in UTC with milliseconds, for the access log.
std::string utc_now() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  std::tm parts{};
  gmtime_r(&seconds, &parts);
  char text[40];
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03lldZ", parts.tm_year + 1900, parts.tm_mon + 1,
                parts.tm_mday, parts.tm_hour, parts.tm_min, parts.tm_sec, static_cast<long long>(ms));
  return text;
}

}  // namespace

// cpp-httplib's server with l2w's connection loop: ConnectionStream for the socket, idle keep-alive
// connections closed as soon as the server stops (a drain does not wait for them), and a connection
// closed after an answer that left its request's body unread.
class Server::Http final : public httplib::Server {
 public:
  using httplib::Server::Server;

 private:
  bool process_and_close_socket(socket_t sock) override {
    bool ok = false, lingering = false;
    {
      ConnectionStream stream(sock, static_cast<int>(read_timeout_sec_ * 1000 + read_timeout_usec_ / 1000),
                              static_cast<int>(write_timeout_sec_ * 1000 + write_timeout_usec_ / 1000));
      for (size_t left = keep_alive_max_count_; left > 0 && next_request(sock); --left) {
        bool closed = false;
        trace = {};
        ok = process_request(stream, left == 1, closed, nullptr);
        lingering = trace.close;
        if (!ok || closed || trace.close) break;
      }
    }
    if (lingering) linger(sock);
    ::shutdown(sock, SHUT_RDWR);
    ::close(sock);
    return ok;
  }

  // Whether a request (or the client's end of file) arrives before the keep-alive timeout, checking
  // often whether the server stops.
  bool next_request(int sock) const {
    const auto until = Clock::now() + std::chrono::seconds(keep_alive_timeout_sec_);
    while (svr_sock_ != INVALID_SOCKET) {
      if (wait_for(sock, POLLIN, 50)) return true;
      if (Clock::now() >= until) return false;
    }
    return false;
  }
};

Server::Server(ServerOptions options) : options_(std::move(options)), http_(std::make_unique<Http>()) {
  const int threads = options_.connection_threads();
  http_->new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  http_->set_payload_max_length(static_cast<size_t>(options_.max_body_bytes()));
  http_->set_keep_alive_max_count(1000);
  http_->set_keep_alive_timeout(5);  // an idle connection holds a thread this long
  http_->set_tcp_nodelay(true);
  if (!options_.access_log().empty()) {
    access_log_ = std::make_unique<std::ofstream>(options_.access_log(), std::ios::app);
    if (!*access_log_) throw std::runtime_error("cannot open the access log " + options_.access_log());
  }
  // Debian's cpp-httplib is compiled to listen with a backlog of 5 pending connections: a burst of new
  // connections overflows it and clients see resets. The listening socket is kept here so that bind()
  // can raise its backlog (listen() again on a listening socket sets a new one).
  http_->set_socket_options([this](socket_t sock) {
    httplib::default_socket_options(sock);
    listening_socket_ = sock;
  });
  // Runs after the headers are read and before the body is: a body that cannot be read is refused here.
  http_->set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    trace.start = Clock::now();
    res.set_header("X-Request-Id", request_id(req));
    return refuse_unreadable_body(req, res) ? httplib::Server::HandlerResponse::Handled
                                            : httplib::Server::HandlerResponse::Unhandled;
  });
  http_->Post("/v1/classify", [this](const httplib::Request& req, httplib::Response& res) { classify(req, res); });
  http_->Get("/v1/status", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(status_json(), "application/json");
  });
  http_->Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    const Backend* b = backend_;
    const auto queue = b ? std::optional<QueueStatus>(b->queue->status()) : std::nullopt;
    res.set_content(metrics_.prometheus(queue ? &*queue : nullptr, b ? b->menu : nullptr), "text/plain; version=0.0.4");
  });
  http_->Get("/healthz", [](const httplib::Request&, httplib::Response& res) { res.set_content("ok\n", "text/plain"); });
  http_->Get("/readyz", [this](const httplib::Request&, httplib::Response& res) {
    if (ready()) return res.set_content("ready\n", "text/plain");
    trace.outcome = "not_ready";
    refuse_overloaded(res, state());
  });
  // Every answer is counted before it is written, so that a client that has its answer finds it in
  // /metrics: httplib calls the post-routing handler for every routed answer and the error handler for
  // every answer of 400 and above, routed or not, both before writing (the logger runs after).
  http_->set_post_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (res.status < 400) count(req, res);
  });
  http_->set_error_handler([this](const httplib::Request& req, httplib::Response& res) {
    count(req, res);
    if (!res.body.empty()) return;
    if (res.status == 413) return answer_error(res, 413, "the body is larger than the server takes");
    answer_error(res, res.status, res.status == 404 ? "no such path" : "bad request");
  });
  http_->set_logger([this](const httplib::Request& req, const httplib::Response& res) {
    if (access_log_) log_access(req, res);
  });
}

Server::Server(InferenceQueue& queue, const BudgetMenu& menu, InputFormat format, ServerOptions options)
    : Server(std::move(options)) {
  attach(queue, menu, std::move(format));
}

Server::~Server() = default;

void Server::attach(InferenceQueue& queue, const BudgetMenu& menu, InputFormat format) {
  if (backend_storage_) throw std::logic_error("Server::attach: already attached");
  metrics_.set_exits(static_cast<int64_t>(menu.exit_muladds.size()));
  backend_storage_ = std::make_unique<Backend>(Backend{&queue, &menu, std::move(format)});
  backend_ = backend_storage_.get();
}

int Server::bind() {
  if (options_.port() == 0) {
    port_ = http_->bind_to_any_port(options_.bind());
    if (port_ < 0) throw std::runtime_error("cannot bind " + options_.bind() + " to any port");
  } else {
    if (!http_->bind_to_port(options_.bind(), options_.port()))
      throw std::runtime_error("cannot bind " + options_.bind() + ":" + std::to_string(options_.port()) +
                               " (in use, or not an address of this machine)");
    port_ = options_.port();
  }
  if (listening_socket_ >= 0 && ::listen(listening_socket_, SOMAXCONN) != 0)
    throw std::runtime_error("cannot raise the listen backlog of " + options_.bind() + ":" + std::to_string(port_));
  return port_;
}

void Server::run() {
  {
    std::lock_guard<std::mutex> lock(run_mutex_);
    if (draining_) return;
    running_ = true;
  }
  http_->listen_after_bind();
  ran_ = true;
}

void Server::shutdown() {
  {
    std::lock_guard<std::mutex> lock(run_mutex_);
    draining_ = true;
  }
  while (in_flight_ > 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  // httplib's stop() does nothing before its loop has started: wait for it (or its end).
  if (!running_) return;
  while (!http_->is_running() && !ran_) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  http_->stop();
}

// Refuses, before it is read, a body whose length is not given as the server can take it: a request
// with a body needs a Content-Length (chunked bodies are refused, as their size is unknown until read),
// a number within the body limit.
bool Server::refuse_unreadable_body(const httplib::Request& req, httplib::Response& res) const {
  if (req.method != "POST" && req.method != "PUT" && req.method != "PATCH") return false;
  const auto refuse = [&res](int status, const std::string& why) {
    trace.close = true;
    res.set_header("Connection", "close");
    answer_error(res, status, why);
    return true;
  };
  if (req.has_header("Transfer-Encoding"))
    return refuse(411, "a request body needs a Content-Length (chunked bodies are not taken)");
  if (!req.has_header("Content-Length")) return refuse(411, "a request body needs a Content-Length");
  const auto text = req.get_header_value("Content-Length");
  const bool digits = !text.empty() && text.size() <= 18 &&
                      std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (!digits) return refuse(400, "Content-Length '" + text + "' is not a length");
  if (std::stoll(text) > options_.max_body_bytes())
    return refuse(413, "the body is larger than the server takes (" + std::to_string(options_.max_body_bytes()) + " bytes)");
  return false;
}

std::string Server::state() const {
  if (draining_) return "shutting down";
  if (backend_ == nullptr) return "starting";
  return ready_ ? "ready" : "warming up";
}

void Server::classify(const httplib::Request& req, httplib::Response& res) {
  const auto start = Clock::now();
  ++in_flight_;
  struct Leaving {
    std::atomic<int64_t>& count;
    ~Leaving() { --count; }
  } leaving{in_flight_};
  const Backend* backend = backend_;
  if (!ready()) {
    trace.outcome = "unavailable";
    return refuse_overloaded(res, state());
  }
  const auto bodies = image_bodies(req);
  if (bodies.empty()) return answer_error(res, 400, "no image in the request");
  std::vector<torch::Tensor> images;
  for (size_t i = 0; i < bodies.size(); ++i) {
    const std::string which = bodies.size() > 1 ? "image " + std::to_string(i + 1) + ": " : "";
    try {
      images.push_back(image_to_input(std::vector<uint8_t>(bodies[i]->begin(), bodies[i]->end()), backend->format,
                                      options_.max_image_pixels()));
    } catch (const InputTooLarge& e) {
      return answer_error(res, 413, which + e.what());
    } catch (const InputError& e) {
      return answer_error(res, 400, which + e.what());
    }
  }
  auto answer = backend->queue->submit(torch::stack(images));
  if (!answer) return refuse_overloaded(res, "the queue is full");
  Served served;
  try {
    served = answer->get();
  } catch (const std::exception& e) {
    return answer_error(res, 500, e.what());
  }
  metrics_.record_served(served, std::chrono::duration<double>(Clock::now() - start).count());
  for (const auto& image : served.images) trace.exits += (trace.exits.empty() ? "" : ",") + std::to_string(image.exit + 1);
  const auto id = res.get_header_value("X-Request-Id");
  if (req.is_multipart_form_data()) {
    Json body{{"request_id", id}, {"images", Json::array()}};
    for (const auto& image : served.images) body["images"].push_back(image_json(image, served, *backend->menu));
    answer_json(res, body);
  } else {
    auto body = image_json(served.images[0], served, *backend->menu);
    body["request_id"] = id;
    answer_json(res, body);
  }
}

std::string Server::status_json() const {
  Json status{{"model", options_.model()}, {"state", state()}, {"ready", ready()}, {"draining", draining_.load()}};
  if (const Backend* b = backend_) {
    const auto q = b->queue->status();
    const auto& menu = *b->menu;
    const auto& budget = menu.budgets[q.budget];
    status.update(Json{{"criterion", criterion::exit_criterion_name(menu.criterion)},
                       {"exits", menu.exit_muladds.size()},
                       {"budgets", menu.budgets.size()},
                       {"budget",
                        {{"index", q.budget},
                         {"p_index", budget.p_index},
                         {"muladds", budget.valid_expected_muladds},
                         {"valid_accuracy", budget.valid_accuracy}}},
                       {"full_muladds", menu.full_muladds},
                       {"queue_images", q.queued_images},
                       {"arrival_rate", q.arrival_rate},
                       {"served_images", q.served_images},
                       {"batches", q.batches}});
  }
  status["answered"] = metrics_.responses("classify", 200);
  status["rejected"] = metrics_.responses("classify", 503);
  return status.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n";
}

void Server::count(const httplib::Request& req, const httplib::Response& res) {
  metrics_.count_response(endpoint(req.path), trace.outcome.empty() ? outcome(res.status) : trace.outcome, res.status);
}

void Server::log_access(const httplib::Request& req, const httplib::Response& res) {
  const bool timed = trace.start != Clock::time_point{};
  char latency[32] = "-";
  if (timed) std::snprintf(latency, sizeof latency, "%.3f", 1e3 * std::chrono::duration<double>(Clock::now() - trace.start).count());
  const auto id = res.has_header("X-Request-Id") ? res.get_header_value("X-Request-Id") : std::string("-");
  std::string line = utc_now() + "\t" + id + "\t" + req.method + " " + req.path + "\t" + std::to_string(res.status) +
                     "\t" + (trace.exits.empty() ? "-" : trace.exits) + "\t" + latency + "\n";
  std::lock_guard<std::mutex> lock(access_log_mutex_);
  *access_log_ << line << std::flush;
}

}  // namespace l2w::serve
