#include "l2w/serve/http_server.h"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
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
  std::string exits;  // the exits its images took, 1-based, comma-separated
};
thread_local RequestTrace trace;

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

Server::Server(InferenceQueue& queue, const BudgetMenu& menu, InputFormat format, ServerOptions options)
    : queue_(queue),
      menu_(menu),
      format_(std::move(format)),
      options_(std::move(options)),
      metrics_(static_cast<int64_t>(menu.exit_muladds.size())),
      http_(std::make_unique<httplib::Server>()) {
  const int threads = options_.connection_threads();
  http_->new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  http_->set_payload_max_length(static_cast<size_t>(options_.max_body_bytes()));
  http_->set_keep_alive_max_count(1000);
  http_->set_keep_alive_timeout(5);  // an idle connection holds a thread this long, a drain too
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
  http_->set_pre_routing_handler([](const httplib::Request& req, httplib::Response& res) {
    trace = {Clock::now(), ""};
    res.set_header("X-Request-Id", request_id(req));
    return httplib::Server::HandlerResponse::Unhandled;
  });
  http_->Post("/v1/classify", [this](const httplib::Request& req, httplib::Response& res) { classify(req, res); });
  http_->Get("/v1/status", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(status_json(), "application/json");
  });
  http_->Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(metrics_.prometheus(queue_.status(), menu_), "text/plain; version=0.0.4");
  });
  http_->Get("/healthz", [](const httplib::Request&, httplib::Response& res) { res.set_content("ok\n", "text/plain"); });
  http_->Get("/readyz", [this](const httplib::Request&, httplib::Response& res) {
    if (draining_) return refuse_overloaded(res, "shutting down");
    if (!ready_) return refuse_overloaded(res, "warming up");
    res.set_content("ready\n", "text/plain");
  });
  http_->set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (!res.body.empty()) return;
    if (res.status == 413) return answer_error(res, 413, "the body is larger than the server takes");
    answer_error(res, res.status, res.status == 404 ? "no such path" : "bad request");
  });
  http_->set_logger([this](const httplib::Request& req, const httplib::Response& res) {
    metrics_.count_response(res.status);
    if (access_log_) log_access(req, res);
  });
}

Server::~Server() = default;

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

void Server::run() { http_->listen_after_bind(); }

void Server::shutdown() {
  draining_ = true;
  while (in_flight_ > 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  http_->stop();
}

void Server::classify(const httplib::Request& req, httplib::Response& res) {
  const auto start = Clock::now();
  ++in_flight_;
  struct Leaving {
    std::atomic<int64_t>& count;
    ~Leaving() { --count; }
  } leaving{in_flight_};
  if (draining_) return refuse_overloaded(res, "shutting down");
  if (!ready_) return refuse_overloaded(res, "warming up");
  const auto bodies = image_bodies(req);
  if (bodies.empty()) return answer_error(res, 400, "no image in the request");
  std::vector<torch::Tensor> images;
  for (size_t i = 0; i < bodies.size(); ++i) {
    try {
      images.push_back(image_to_input(std::vector<uint8_t>(bodies[i]->begin(), bodies[i]->end()), format_));
    } catch (const InputError& e) {
      return answer_error(res, 400, (bodies.size() > 1 ? "image " + std::to_string(i + 1) + ": " : "") + e.what());
    }
  }
  auto answer = queue_.submit(torch::stack(images));
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
    for (const auto& image : served.images) body["images"].push_back(image_json(image, served, menu_));
    answer_json(res, body);
  } else {
    auto body = image_json(served.images[0], served, menu_);
    body["request_id"] = id;
    answer_json(res, body);
  }
}

std::string Server::status_json() const {
  const auto q = queue_.status();
  const auto& budget = menu_.budgets[q.budget];
  const Json status{{"model", options_.model()},
                    {"criterion", criterion::exit_criterion_name(menu_.criterion)},
                    {"exits", menu_.exit_muladds.size()},
                    {"budgets", menu_.budgets.size()},
                    {"budget",
                     {{"index", q.budget},
                      {"p_index", budget.p_index},
                      {"muladds", budget.valid_expected_muladds},
                      {"valid_accuracy", budget.valid_accuracy}}},
                    {"full_muladds", menu_.full_muladds},
                    {"queue_images", q.queued_images},
                    {"arrival_rate", q.arrival_rate},
                    {"served_images", q.served_images},
                    {"batches", q.batches},
                    {"answered", metrics_.responses(200)},
                    {"rejected", metrics_.responses(503)},
                    {"ready", ready_ && !draining_},
                    {"draining", draining_.load()}};
  return status.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n";
}

void Server::log_access(const httplib::Request& req, const httplib::Response& res) {
  const bool timed = trace.start != Clock::time_point{};
  char latency[32] = "-";
  if (timed) std::snprintf(latency, sizeof latency, "%.3f", 1e3 * std::chrono::duration<double>(Clock::now() - trace.start).count());
  const auto id = res.has_header("X-Request-Id") ? res.get_header_value("X-Request-Id") : std::string("-");
  std::string line = utc_now() + "\t" + id + "\t" + req.method + " " + req.path + "\t" + std::to_string(res.status) +
                     "\t" + (trace.exits.empty() ? "-" : trace.exits) + "\t" + latency + "\n";
  trace = {};
  std::lock_guard<std::mutex> lock(access_log_mutex_);
  *access_log_ << line << std::flush;
}

}  // namespace l2w::serve
