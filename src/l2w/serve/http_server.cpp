#include "l2w/serve/http_server.h"

#include <cstdio>
#include <thread>

#include <httplib.h>

#include "l2w/criterion/exit_criterion.h"

namespace l2w::serve {
namespace {

using Clock = std::chrono::steady_clock;

std::string json_string(const std::string& text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string image_json(const ImageResult& r, const Served& s, const BudgetMenu& menu) {
  char buf[320];
  std::snprintf(buf, sizeof buf,
                "{\"class\": %lld, \"confidence\": %.6g, \"exit\": %lld, \"muladds\": %lld, \"budget_muladds\": %.0f, "
                "\"queue_ms\": %.3f, \"compute_ms\": %.3f, \"batch\": %lld}",
                static_cast<long long>(r.prediction), static_cast<double>(r.confidence),
                static_cast<long long>(r.exit + 1), static_cast<long long>(r.muladds),
                menu.budgets[s.budget].valid_expected_muladds, 1e3 * s.queue_s, 1e3 * s.compute_s,
                static_cast<long long>(s.batch_images));
  return buf;
}

void answer_error(httplib::Response& res, int status, const std::string& why) {
  res.status = status;
  res.set_content("{\"error\": " + json_string(why) + "}\n", "application/json");
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
  http_->Post("/v1/classify", [this](const httplib::Request& req, httplib::Response& res) { classify(req, res); });
  http_->Get("/v1/status", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(status_json(), "application/json");
  });
  http_->Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(metrics_.prometheus(queue_.status(), menu_), "text/plain; version=0.0.4");
  });
  http_->Get("/healthz", [this](const httplib::Request&, httplib::Response& res) {
    if (draining_) return refuse_overloaded(res, "shutting down");
    res.set_content("ok\n", "text/plain");
  });
  http_->set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (!res.body.empty()) return;
    if (res.status == 413) return answer_error(res, 413, "the body is larger than the server takes");
    answer_error(res, res.status, res.status == 404 ? "no such path" : "bad request");
  });
  http_->set_logger([this](const httplib::Request&, const httplib::Response& res) { metrics_.count_response(res.status); });
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
  std::string body;
  if (req.is_multipart_form_data()) {
    body = "{\"images\": [";
    for (size_t i = 0; i < served.images.size(); ++i) body += (i ? ", " : "") + image_json(served.images[i], served, menu_);
    body += "]}\n";
  } else {
    body = image_json(served.images[0], served, menu_) + "\n";
  }
  res.set_content(body, "application/json");
}

std::string Server::status_json() const {
  const auto q = queue_.status();
  const auto& budget = menu_.budgets[q.budget];
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "{\"model\": %s, \"criterion\": %s, \"exits\": %zu, \"budgets\": %zu, \"budget\": {\"index\": %zu, "
                "\"p_index\": %lld, \"muladds\": %.0f, \"valid_accuracy\": %.2f}, \"full_muladds\": %lld, "
                "\"queue_images\": %lld, \"arrival_rate\": %.2f, \"served_images\": %lld, \"batches\": %lld, "
                "\"answered\": %lld, \"rejected\": %lld, \"draining\": %s}\n",
                json_string(options_.model()).c_str(), json_string(criterion::exit_criterion_name(menu_.criterion)).c_str(),
                menu_.exit_muladds.size(), menu_.budgets.size(), q.budget, static_cast<long long>(budget.p_index),
                budget.valid_expected_muladds, budget.valid_accuracy, static_cast<long long>(menu_.full_muladds),
                static_cast<long long>(q.queued_images), q.arrival_rate, static_cast<long long>(q.served_images),
                static_cast<long long>(q.batches), static_cast<long long>(metrics_.responses(200)),
                static_cast<long long>(metrics_.responses(503)), draining_ ? "true" : "false");
  return buf;
}

}  // namespace l2w::serve
