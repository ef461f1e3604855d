#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <future>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "l2w/dataset/image_decoding.h"
#include "l2w/models/msdnet.h"
#include "l2w/serve/budgeted_engine.h"
#include "l2w/serve/http_server.h"
#include "l2w/serve/load_generator.h"
#include "image_bombs.h"
#include "test_util.h"

namespace l2w {
namespace {

serve::InputFormat grey_28() {
  serve::InputFormat f;
  f.mean = {0.5f}, f.std = {0.25f};
  return f;
}

// An ImageNet-style format: any image size is resized and cropped, so only the pixel limit refuses one.
serve::InputFormat resizing_28() {
  serve::InputFormat f;
  f.channels = 3, f.resize_and_crop = true;
  f.mean = {0.5f, 0.5f, 0.5f}, f.std = {0.25f, 0.25f, 0.25f};
  return f;
}

std::string png_body(uint64_t seed, int64_t h = 28, int64_t w = 28) {
  std::mt19937_64 rng(seed);
  dataset::RgbImage image{h, w, std::vector<uint8_t>(static_cast<size_t>(h * w * 3)), 1};
  for (int64_t i = 0; i < h * w; ++i) image.pixels[i * 3] = image.pixels[i * 3 + 1] = image.pixels[i * 3 + 2] = rng() % 256;
  const auto png = dataset::encode_png(image);
  return std::string(png.begin(), png.end());
}

// Sends `request` on a new loopback connection, then (when `half_close`) shuts down the sending side, and
// returns everything the server sends until it closes, or what came within `timeout_s`.
std::string raw_exchange(int port, const std::string& request, bool half_close, double timeout_s = 4) {
  const int sock = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval timeout{static_cast<time_t>(timeout_s), static_cast<suseconds_t>((timeout_s - static_cast<int>(timeout_s)) * 1e6)};
  ::setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  std::string answer;
  if (::connect(sock, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
      ::send(sock, request.data(), request.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(request.size())) {
    if (half_close) ::shutdown(sock, SHUT_WR);
    char buffer[4096];
    for (ssize_t n; (n = ::recv(sock, buffer, sizeof buffer, 0)) > 0;) answer.append(buffer, static_cast<size_t>(n));
  }
  ::close(sock);
  return answer;
}

// The status line's code of a raw answer ("" when none came).
std::string status_of(const std::string& answer) { return answer.size() >= 12 ? answer.substr(9, 3) : ""; }

// This process's peak resident memory since the last reset_peak_memory(), in bytes (Linux).
void reset_peak_memory() { std::ofstream("/proc/self/clear_refs") << "5"; }
int64_t peak_memory() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("VmHWM:", 0) == 0) return std::stoll(line.substr(6)) * 1024;
  return -1;
}
int64_t resident_memory() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6)) * 1024;
  return -1;
}

// A server on a free loopback port, ready and serving until the fixture ends.
struct RunningServer {
  serve::Server server;
  std::thread thread;
  RunningServer(serve::InferenceQueue& queue, const serve::BudgetMenu& menu, int64_t max_body = 1 << 20)
      : RunningServer(queue, menu, serve::ServerOptions().max_body_bytes(max_body).connection_threads(8)) {}
  RunningServer(serve::InferenceQueue& queue, const serve::BudgetMenu& menu, serve::ServerOptions options,
                bool ready = true)
      : server(queue, menu, grey_28(), options.port(0)) {
    server.bind();
    server.set_ready(ready);
    thread = std::thread([this] { server.run(); });
  }
  ~RunningServer() {
    server.shutdown();
    thread.join();
  }
  // Kept alive: the server counts and logs a request after answering it, so a request on a fresh
  // connection (another thread) may not be counted yet when the next one reads /metrics; on one
  // connection it always is.
  httplib::Client client() const {
    httplib::Client c("127.0.0.1", server.port());
    c.set_keep_alive(true);
    return c;
  }
};

class HttpServer : public ::testing::Test {
 protected:
  void SetUp() override {
    torch::manual_seed(5);
    auto net = std::make_shared<models::MSDNetImpl>(test::tiny_msdnet(1, 10));
    {
      torch::NoGradGuard no_grad;
      for (auto& p : net->parameters()) p.mul_(1.5);
    }
    net->eval();
    torch::NoGradGuard no_grad;
    const eval::ExitOutputs outputs{net->forward(torch::randn({200, 1, 28, 28})), torch::zeros({200}, torch::kLong)};
    deployed_ = infer::deploy(net, {1, 28, 28}, torch::kCPU, infer::DeploymentOptions().layout(infer::Layout::kContiguous));
    menu_ = serve::fit_budget_menu(eval::exit_confidences(outputs), deployed_.costs, deployed_.last_exit_only_muladds);
    engine_ = std::make_unique<serve::BudgetedEngine>(deployed_, menu_, 1, 1);
  }

  // The early-exit engine's answers for these bodies at the given budget, as one batch.
  infer::ExitDecisions expected(const std::vector<std::string>& bodies, size_t budget) {
    std::vector<torch::Tensor> images;
    for (const auto& b : bodies) images.push_back(serve::image_to_input(std::vector<uint8_t>(b.begin(), b.end()), grey_28(), dataset::kMaxImagePixels));
    infer::EarlyExitClassifier reference(deployed_.net, menu_.budgets[budget].thresholds, deployed_.form.input_format);
    return reference.classify(torch::stack(images));
  }

  serve::BatchEngine engine() {
    return [this](const torch::Tensor& images, size_t b) { return engine_->classify(images, b); };
  }

  infer::DeployedNetwork deployed_;
  serve::BudgetMenu menu_;
  std::unique_ptr<serve::BudgetedEngine> engine_;
};

TEST_F(HttpServer, AnswersAsTheEarlyExitEngineDoesForSingleImagesAndBatches) {
  ASSERT_GE(menu_.budgets.size(), 3u);
  const size_t budget = menu_.budgets.size() / 2;
  serve::InferenceQueue queue(engine(), serve::BudgetController(std::vector<serve::ServiceTime>(menu_.budgets.size()),
                                                                serve::ControllerOptions().pinned(static_cast<int64_t>(budget))));
  RunningServer running(queue, menu_);
  auto client = running.client();
  std::set<int64_t> exits;
  for (uint64_t seed = 0; seed < 12; ++seed) {
    const auto body = png_body(seed);
    const auto res = client.Post("/v1/classify", body, "image/png");
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 200) << res->body;
    const auto want = expected({body}, budget);
    EXPECT_EQ(serve::json_number(res->body, "class"), want.prediction[0].item<int64_t>());
    EXPECT_EQ(serve::json_number(res->body, "exit"), want.exit_index[0].item<int64_t>() + 1);
    EXPECT_EQ(serve::json_number(res->body, "muladds"), menu_.exit_muladds[want.exit_index[0].item<int64_t>()]);
    exits.insert(want.exit_index[0].item<int64_t>());
  }
  EXPECT_GE(exits.size(), 2u) << "the images should leave at different exits";
  httplib::MultipartFormDataItems parts;
  std::vector<std::string> bodies;
  for (uint64_t seed = 20; seed < 23; ++seed) {
    bodies.push_back(png_body(seed));
    parts.push_back({"image", bodies.back(), "x.png", "image/png"});
  }
  const auto res = client.Post("/v1/classify", parts);
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  const auto want = expected(bodies, budget);
  const auto answer = nlohmann::json::parse(res->body);
  ASSERT_EQ(answer["images"].size(), 3u);
  for (int64_t i = 0; i < 3; ++i) {
    EXPECT_EQ(answer["images"][i]["class"].get<int64_t>(), want.prediction[i].item<int64_t>());
    EXPECT_EQ(answer["images"][i]["exit"].get<int64_t>(), want.exit_index[i].item<int64_t>() + 1);
  }
  EXPECT_EQ(answer["request_id"].get<std::string>(), res->get_header_value("X-Request-Id"));
}

TEST_F(HttpServer, BadInputGetsAReasonAndTheServerGoesOn) {
  serve::InferenceQueue queue(engine(), serve::BudgetController(std::vector<serve::ServiceTime>(menu_.budgets.size()), {}));
  RunningServer running(queue, menu_, 4000);
  auto client = running.client();
  // The status and the error message of the JSON body.
  const auto status_and_error = [&](const std::string& body) {
    const auto res = client.Post("/v1/classify", body, "application/octet-stream");
    if (!res) return std::string("no answer");
    const auto answer = nlohmann::json::parse(res->body, nullptr, /*allow_exceptions=*/false);
    return std::to_string(res->status) + " " + (answer.contains("error") ? answer["error"].get<std::string>() : "");
  };
  EXPECT_EQ(status_and_error("not an image"), "400 the body: neither a JPEG nor a PNG file");
  EXPECT_EQ(status_and_error(png_body(1, 32, 32)), "400 the image is 32x32 grey, the network takes 28x28 grey images");
  EXPECT_NE(status_and_error(png_body(1).substr(0, 300)).find("400 the body: cannot decode PNG"), std::string::npos);
  EXPECT_EQ(status_and_error(std::string(5000, 'x')), "413 the body is larger than the server takes (4000 bytes)");
  EXPECT_EQ(status_and_error(png_body(2)), "200 ");
  const auto health = client.Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->body, "ok\n");
  const auto metrics = client.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find("l2w_requests_total{endpoint=\"classify\",outcome=\"bad_request\",code=\"400\"} 3\n"),
            std::string::npos)
      << metrics->body;
  EXPECT_NE(metrics->body.find("l2w_requests_total{endpoint=\"classify\",outcome=\"too_large\",code=\"413\"} 1\n"),
            std::string::npos);
  EXPECT_NE(metrics->body.find("l2w_request_latency_seconds_count 1\n"), std::string::npos);
  const auto status = client.Get("/v1/status");
  ASSERT_TRUE(status);
  EXPECT_EQ(serve::json_number(status->body, "served_images"), 1);
  EXPECT_EQ(serve::json_number(status->body, "budgets"), static_cast<double>(menu_.budgets.size()));
}

TEST_F(HttpServer, OverloadIsRefusedWith503AndRecoversAndShutdownDrains) {
  auto slow = [this](const torch::Tensor& images, size_t b) {
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
    return engine_->classify(images, b);
  };
  serve::InferenceQueue queue(slow, serve::BudgetController(std::vector<serve::ServiceTime>(menu_.budgets.size()), {}),
                              serve::QueueOptions().max_queued_images(2));
  auto running = std::make_unique<RunningServer>(queue, menu_);
  std::vector<int> statuses(6, 0);
  std::vector<std::string> retry(6);
  std::vector<std::thread> clients;
  for (int i = 0; i < 6; ++i) {
    clients.emplace_back([&, i] {
      auto client = running->client();
      const auto res = client.Post("/v1/classify", png_body(i), "image/png");
      statuses[i] = res ? res->status : -1;
      if (res) retry[i] = res->get_header_value("Retry-After");
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_GE(std::count(statuses.begin(), statuses.end(), 503), 1);
  EXPECT_GE(std::count(statuses.begin(), statuses.end(), 200), 2);
  for (int i = 0; i < 6; ++i) {
    if (statuses[i] == 503) {
      EXPECT_EQ(retry[i], "1");
    }
  }
  auto client = running->client();
  const auto after = client.Post("/v1/classify", png_body(9), "image/png");
  ASSERT_TRUE(after);
  EXPECT_EQ(after->status, 200);  // recovered once the queue emptied
  // Two requests in flight when shutdown begins are answered; afterwards nothing listens.
  std::vector<int> drained(2, 0);
  clients.clear();
  for (int i = 0; i < 2; ++i) {
    clients.emplace_back([&, i] {
      auto c = running->client();
      const auto res = c.Post("/v1/classify", png_body(30 + i), "image/png");
      drained[i] = res ? res->status : -1;
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  const int port = running->server.port();
  running.reset();  // shutdown() and join
  for (auto& t : clients) t.join();
  EXPECT_EQ(drained, (std::vector<int>{200, 200}));
  httplib::Client late("127.0.0.1", port);
  late.set_connection_timeout(1);
  EXPECT_FALSE(late.Get("/healthz"));
}

// /healthz answers while the process serves HTTP; /readyz and classification only once warmed up, and
// not while draining.
TEST_F(HttpServer, ReadinessIsSeparateFromLiveness) {
  serve::InferenceQueue queue(engine(), serve::BudgetController(std::vector<serve::ServiceTime>(menu_.budgets.size()), {}));
  auto running = std::make_unique<RunningServer>(queue, menu_, serve::ServerOptions().connection_threads(8), false);
  auto client = running->client();
  EXPECT_EQ(client.Get("/healthz")->status, 200);
  const auto warming = client.Get("/readyz");
  EXPECT_EQ(warming->status, 503);
  EXPECT_EQ(warming->get_header_value("Retry-After"), "1");
  const auto early = client.Post("/v1/classify", png_body(1), "image/png");
  EXPECT_EQ(early->status, 503);
  EXPECT_EQ(nlohmann::json::parse(early->body)["error"].get<std::string>(), "warming up");
  EXPECT_FALSE(nlohmann::json::parse(client.Get("/v1/status")->body)["ready"].get<bool>());
  running->server.set_ready(true);
  EXPECT_EQ(client.Get("/readyz")->status, 200);
  EXPECT_EQ(client.Post("/v1/classify", png_body(1), "image/png")->status, 200);
  EXPECT_TRUE(nlohmann::json::parse(client.Get("/v1/status")->body)["ready"].get<bool>());
  // While it drains (a slow request keeps it draining), readiness goes and liveness stays.
  serve::InferenceQueue slow_queue(
      [this](const torch::Tensor& images, size_t b) {
        std::this_thread::sleep_for(std::chrono::milliseconds(400));
        return engine_->classify(images, b);
      },
      serve::BudgetController(std::vector<serve::ServiceTime>(menu_.budgets.size()), {}));
  RunningServer slow(slow_queue, menu_, serve::ServerOptions().connection_threads(8));
  std::thread request([&] { slow.client().Post("/v1/classify", png_body(2), "image/png"); });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  std::thread drain([&] { slow.server.shutdown(); });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  auto probe = slow.client();
  probe.set_keep_alive(false);
  EXPECT_EQ(probe.Get("/readyz")->status, 503);
  EXPECT_EQ(probe.Get("/healthz")->status, 200);
  request.join();
  drain.join();
}

// Before the network is attached the server already listens: liveness 200, readiness and
// classification 503 with Retry-After, a status that says "starting", metrics without the queue's
// gauges, and readiness polls counted as readiness polls, not as refused classifications.
TEST_F(HttpServer, ListensAndAnswersProbesBeforeTheNetworkIsLoaded) {
  serve::Server server(serve::ServerOptions().port(0).connection_threads(8));
  server.bind();
  std::thread serving([&] { server.run(); });
  httplib::Client client("127.0.0.1", server.port());
  client.set_keep_alive(true);  // each request counted before the next is read (see RunningServer::client)
  EXPECT_EQ(client.Get("/healthz")->status, 200);
  const auto ready = client.Get("/readyz");
  EXPECT_EQ(ready->status, 503);
  EXPECT_EQ(ready->get_header_value("Retry-After"), "1");
  EXPECT_EQ(nlohmann::json::parse(ready->body)["error"].get<std::string>(), "starting");
  const auto early = client.Post("/v1/classify", png_body(1), "image/png");
  EXPECT_EQ(early->status, 503);
  EXPECT_EQ(nlohmann::json::parse(early->body)["error"].get<std::string>(), "starting");
  EXPECT_EQ(nlohmann::json::parse(client.Get("/v1/status")->body)["state"].get<std::string>(), "starting");
  auto metrics = client.Get("/metrics")->body;
  EXPECT_NE(metrics.find("l2w_requests_total{endpoint=\"readyz\",outcome=\"not_ready\",code=\"503\"} 1\n"), std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("l2w_requests_total{endpoint=\"classify\",outcome=\"unavailable\",code=\"503\"} 1\n"),
            std::string::npos);
  EXPECT_EQ(metrics.find("overloaded"), std::string::npos);
  EXPECT_EQ(metrics.find("l2w_budget_muladds"), std::string::npos);

  serve::InferenceQueue queue(engine(), serve::BudgetController(std::vector<serve::ServiceTime>(menu_.budgets.size()), {}));
  server.attach(queue, menu_, grey_28());
  EXPECT_EQ(nlohmann::json::parse(client.Get("/readyz")->body)["error"].get<std::string>(), "warming up");
  server.set_ready(true);
  EXPECT_EQ(client.Post("/v1/classify", png_body(1), "image/png")->status, 200);
  metrics = client.Get("/metrics")->body;
  EXPECT_NE(metrics.find("l2w_requests_total{endpoint=\"classify\",outcome=\"ok\",code=\"200\"} 1\n"), std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("l2w_requests_total{endpoint=\"healthz\",outcome=\"ok\",code=\"200\"} 1\n"), std::string::npos);
  EXPECT_NE(metrics.find("l2w_budget_muladds"), std::string::npos);
  EXPECT_NE(metrics.find("l2w_exits_taken_total{exit=\"1\"}"), std::string::npos);
  server.shutdown();
  serving.join();
  if (std::system("command -v promtool >/dev/null 2>&1") == 0) {  // Debian's prometheus package
    const auto file = test::temp_dir("metrics") + "/metrics.txt";
    std::ofstream(file) << metrics;
    EXPECT_EQ(std::system(("promtool check metrics < " + file).c_str()), 0) << metrics;
  }
}

// A shutdown that comes before run() (a signal during start-up) makes run() return at once.
TEST_F(HttpServer, ShutdownBeforeRunEndsIt) {
  serve::Server server(serve::ServerOptions().port(0).connection_threads(2));
  server.bind();
  server.shutdown();
  auto run = std::async(std::launch::async, [&] { server.run(); });
  EXPECT_EQ(run.wait_for(std::chrono::seconds(10)), std::future_status::ready);
}

// A client that half-closes its connection after sending gets its answer; a request body whose length
// is negative, beyond 2^64, too large, chunked or not given is answered at once, not after the read
// time-out (5 s; the client waits 4).
TEST_F(HttpServer, HalfClosedClientsAndBadBodyLengthsAreAnsweredAtOnce) {
  serve::InferenceQueue queue(engine(), serve::BudgetController(std::vector<serve::ServiceTime>(menu_.budgets.size()), {}));
  RunningServer running(queue, menu_, 1 << 16);
  const int port = running.server.port();
  const auto body = png_body(3);
  const auto post = [&](const std::string& version, const std::string& headers) {
    return "POST /v1/classify HTTP/" + version + "\r\nHost: 127.0.0.1\r\nContent-Type: image/png\r\n" + headers + "\r\n";
  };
  const auto whole = post("1.1", "Content-Length: " + std::to_string(body.size()) + "\r\n") + body;
  const auto half_closed = raw_exchange(port, whole, /*half_close=*/true);
  EXPECT_EQ(status_of(half_closed), "200") << half_closed;
  EXPECT_NE(half_closed.find("\"class\":"), std::string::npos);
  EXPECT_EQ(status_of(raw_exchange(port, post("1.0", "Content-Length: " + std::to_string(body.size()) + "\r\n") + body, true)),
            "200");
  EXPECT_EQ(status_of(raw_exchange(port, post("1.1", "Content-Length: -1\r\n") + body, false)), "400");
  EXPECT_EQ(status_of(raw_exchange(port, post("1.1", "Content-Length: 18446744073709551616\r\n") + body, false)), "400");
  EXPECT_EQ(status_of(raw_exchange(port, post("1.1", "Content-Length: 9999999\r\n") + body, false)), "413");
  EXPECT_EQ(status_of(raw_exchange(port, post("1.0", "") + body, false)), "411");
  EXPECT_EQ(status_of(raw_exchange(port, post("1.1", "Transfer-Encoding: chunked\r\n") + "5\r\nhello\r\n0\r\n\r\n", false)), "411");
  // The server goes on.
  EXPECT_EQ(running.client().Post("/v1/classify", body, "image/png")->status, 200);
}

// Decompression bombs: 8 concurrent 110 kB PNGs declaring 30000 x 30000 pixels each get 413 from the
// header alone, and the process's peak resident memory grows by less than 100 MB (decoding one would
// take 2.7 GB).
TEST_F(HttpServer, DecompressionBombsGet413WithoutTheirPixels) {
  serve::InferenceQueue queue(engine(), serve::BudgetController(std::vector<serve::ServiceTime>(menu_.budgets.size()), {}));
  serve::Server server(queue, menu_, resizing_28(), serve::ServerOptions().port(0).connection_threads(16));
  server.bind();
  server.set_ready(true);
  std::thread serving([&] { server.run(); });
  const auto bomb = test::bomb_png(30000, 30000);
  const std::string body(bomb.begin(), bomb.end());
  reset_peak_memory();
  const int64_t before = resident_memory();
  std::vector<std::future<std::string>> answers;
  for (int i = 0; i < 8; ++i)
    answers.push_back(std::async(std::launch::async, [&] {
      httplib::Client client("127.0.0.1", server.port());
      const auto res = client.Post("/v1/classify", body, "image/png");
      return res ? std::to_string(res->status) + " " + nlohmann::json::parse(res->body)["error"].get<std::string>() : "none";
    }));
  for (auto& a : answers)
    EXPECT_EQ(a.get(), "413 the image is 30000x30000 pixels, more than the 89478485 this server decodes");
  const int64_t growth = peak_memory() - before;
  std::printf("peak resident memory growth over 8 concurrent bombs: %.1f MB\n", growth / 1e6);
  EXPECT_LT(growth, 100'000'000);
  server.shutdown();
  serving.join();
}

// A client's X-Request-Id comes back in the header and the answer, one is made where none is given, and
// the access log has a line for each request.
TEST_F(HttpServer, RequestIdsAreEchoedOrMadeAndLogged) {
  const auto log = test::temp_dir("access_log") + "/access.log";
  serve::InferenceQueue queue(engine(), serve::BudgetController(std::vector<serve::ServiceTime>(menu_.budgets.size()), {}));
  std::string id;
  {
    RunningServer running(queue, menu_, serve::ServerOptions().connection_threads(8).access_log(log));
    auto client = running.client();  // one connection: the access log's lines in the order sent
    const auto given = client.Post("/v1/classify", {{"X-Request-Id", "trace-42"}}, png_body(3), "image/png");
    ASSERT_EQ(given->status, 200);
    EXPECT_EQ(given->get_header_value("X-Request-Id"), "trace-42");
    const auto answer = nlohmann::json::parse(given->body);
    EXPECT_EQ(answer["request_id"].get<std::string>(), "trace-42");
    const auto made = client.Post("/v1/classify", png_body(4), "image/png");
    id = made->get_header_value("X-Request-Id");
    EXPECT_EQ(id.size(), 16u);
    EXPECT_EQ(nlohmann::json::parse(made->body)["request_id"].get<std::string>(), id);
    EXPECT_NE(client.Post("/v1/classify", png_body(5), "image/png")->get_header_value("X-Request-Id"), id);
    const auto bad = client.Post("/v1/classify", {{"X-Request-Id", "bad"}}, "not an image", "image/png");
    EXPECT_EQ(nlohmann::json::parse(bad->body)["request_id"].get<std::string>(), "bad");
    client.Get("/healthz");
    // A header with spaces or control characters is not echoed: a fresh id instead.
    const auto odd = client.Get("/healthz", {{"X-Request-Id", "two words"}});
    EXPECT_EQ(odd->get_header_value("X-Request-Id").size(), 16u);
  }
  std::ifstream in(log);
  std::vector<std::vector<std::string>> lines;
  for (std::string line; std::getline(in, line);) {
    std::vector<std::string> fields;
    std::stringstream split(line);
    for (std::string field; std::getline(split, field, '\t');) fields.push_back(field);
    lines.push_back(fields);
  }
  ASSERT_EQ(lines.size(), 6u);
  for (const auto& f : lines) ASSERT_EQ(f.size(), 6u);
  EXPECT_EQ(lines[0][1], "trace-42");
  EXPECT_EQ(lines[0][2], "POST /v1/classify");
  EXPECT_EQ(lines[0][3], "200");
  const int64_t exit = std::stoll(lines[0][4]);  // one image: one exit
  EXPECT_GE(exit, 1);
  EXPECT_LE(exit, static_cast<int64_t>(menu_.exit_muladds.size()));
  EXPECT_GT(std::stod(lines[0][5]), 0.0);
  EXPECT_EQ(lines[1][1], id);
  EXPECT_EQ(lines[3][1], "bad");
  EXPECT_EQ(lines[3][3], "400");
  EXPECT_EQ(lines[3][4], "-");
  EXPECT_EQ(lines[4][2], "GET /healthz");
  EXPECT_EQ(lines[0][0].size(), 24u);  // 2026-12-02T19:06:49.123Z
  EXPECT_EQ(lines[0][0].back(), 'Z');
}

// The status names the model whatever its path holds: the JSON parses and gives the path back, and the
// answers' numbers keep their precision.
TEST_F(HttpServer, EveryAnswerIsValidJsonThatRoundTrips) {
  std::string path = "/runs/\"quoted\"/back\\slash/caf\u00e9-\u00fcber-\u65e5\u672c/tab\there/";
  while (path.size() < 1000) path += "x";
  serve::InferenceQueue queue(engine(), serve::BudgetController(std::vector<serve::ServiceTime>(menu_.budgets.size()), {}));
  RunningServer running(queue, menu_, serve::ServerOptions().connection_threads(8).model(path));
  auto client = running.client();
  const auto answer = client.Post("/v1/classify", png_body(6), "image/png");
  ASSERT_EQ(answer->status, 200);
  const auto result = nlohmann::json::parse(answer->body);
  const auto status = nlohmann::json::parse(client.Get("/v1/status")->body);
  EXPECT_EQ(status["model"].get<std::string>(), path);
  EXPECT_EQ(status["budget"]["muladds"].get<double>(), menu_.budgets[status["budget"]["index"].get<size_t>()].valid_expected_muladds);
  EXPECT_EQ(status["budget"]["valid_accuracy"].get<double>(),
            menu_.budgets[status["budget"]["index"].get<size_t>()].valid_accuracy);
  // The confidence is the engine's float, exactly.
  const auto want = expected({png_body(6)}, status["budget"]["index"].get<size_t>());
  EXPECT_EQ(result["confidence"].get<float>(), want.confidence[0].item<float>());
  EXPECT_EQ(result["budget_muladds"].get<double>(),
            menu_.budgets[status["budget"]["index"].get<size_t>()].valid_expected_muladds);
  const auto missing = client.Get("/nowhere");
  EXPECT_EQ(missing->status, 404);
  EXPECT_EQ(nlohmann::json::parse(missing->body)["error"].get<std::string>(), "no such path");
}

// Bursts: 256 clients at once, each opening a new connection per request, then 256 keep-alive
// connections: every request gets 200, or 503 with Retry-After; no reset, refusal or time-out. Loopback
// only, bounded in count and time.
TEST_F(HttpServer, BurstsOfClientsGetOnly200Or503) {
  serve::InferenceQueue queue(engine(), serve::BudgetController(std::vector<serve::ServiceTime>(menu_.budgets.size()), {}),
                              serve::QueueOptions().max_queued_images(64));
  RunningServer running(queue, menu_, serve::ServerOptions());
  std::vector<serve::LabelledImage> images;
  for (uint64_t seed = 0; seed < 16; ++seed) images.push_back({png_body(seed), 0});
  for (const bool new_connections : {true, false}) {
    const auto report = serve::drive_load("127.0.0.1", running.server.port(), images,
                                          serve::LoadOptions()
                                              .rate(1e6)  // every request at once: 256 in flight
                                              .seconds(30)
                                              .max_requests(2048)
                                              .connections(256)
                                              .timeout_s(20)
                                              .new_connection_per_request(new_connections));
    const std::string mode = new_connections ? "new connection per request" : "keep-alive";
    EXPECT_EQ(report.sent, 2048) << mode;
    EXPECT_EQ(report.answered + report.overloaded, report.sent) << mode;
    EXPECT_EQ(report.reset, 0) << mode;
    EXPECT_EQ(report.connect_failed, 0) << mode;
    EXPECT_EQ(report.failed, 0) << mode;
    EXPECT_GT(report.answered, 0) << mode;
  }
}

}  // namespace
}  // namespace l2w
