#include <thread>

#include <gtest/gtest.h>
#include <httplib.h>

#include "l2w/dataset/image_decoding.h"
#include "l2w/models/msdnet.h"
#include "l2w/serve/budgeted_engine.h"
#include "l2w/serve/http_server.h"
#include "l2w/serve/load_generator.h"
#include "test_util.h"

namespace l2w {
namespace {

serve::InputFormat grey_28() {
  serve::InputFormat f;
  f.mean = {0.5f}, f.std = {0.25f};
  return f;
}

std::string png_body(uint64_t seed, int64_t h = 28, int64_t w = 28) {
  std::mt19937_64 rng(seed);
  dataset::RgbImage image{h, w, std::vector<uint8_t>(static_cast<size_t>(h * w * 3)), 1};
  for (int64_t i = 0; i < h * w; ++i) image.pixels[i * 3] = image.pixels[i * 3 + 1] = image.pixels[i * 3 + 2] = rng() % 256;
  const auto png = dataset::encode_png(image);
  return std::string(png.begin(), png.end());
}

// A server on a free loopback port, serving until the fixture ends.
struct RunningServer {
  serve::Server server;
  std::thread thread;
  RunningServer(serve::InferenceQueue& queue, const serve::BudgetMenu& menu, int64_t max_body = 1 << 20)
      : server(queue, menu, grey_28(), serve::ServerOptions().port(0).max_body_bytes(max_body).connection_threads(8)) {
    server.bind();
    thread = std::thread([this] { server.run(); });
  }
  ~RunningServer() {
    server.shutdown();
    thread.join();
  }
  httplib::Client client() const { return httplib::Client("127.0.0.1", server.port()); }
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
    for (const auto& b : bodies) images.push_back(serve::image_to_input(std::vector<uint8_t>(b.begin(), b.end()), grey_28()));
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
  size_t at = 0;
  for (int64_t i = 0; i < 3; ++i) {
    at = res->body.find("{\"class\"", at);
    ASSERT_NE(at, std::string::npos);
    EXPECT_EQ(serve::json_number(res->body.substr(at), "class"), want.prediction[i].item<int64_t>());
    EXPECT_EQ(serve::json_number(res->body.substr(at), "exit"), want.exit_index[i].item<int64_t>() + 1);
    ++at;
  }
}

TEST_F(HttpServer, BadInputGetsAReasonAndTheServerGoesOn) {
  serve::InferenceQueue queue(engine(), serve::BudgetController(std::vector<serve::ServiceTime>(menu_.budgets.size()), {}));
  RunningServer running(queue, menu_, 4000);
  auto client = running.client();
  const auto status_and_body = [&](const std::string& body) {
    const auto res = client.Post("/v1/classify", body, "application/octet-stream");
    return res ? std::to_string(res->status) + " " + res->body : std::string("no answer");
  };
  EXPECT_EQ(status_and_body("not an image"), "400 {\"error\": \"the body: neither a JPEG nor a PNG file\"}\n");
  EXPECT_EQ(status_and_body(png_body(1, 32, 32)),
            "400 {\"error\": \"the image is 32x32 grey, the network takes 28x28 grey images\"}\n");
  EXPECT_NE(status_and_body(png_body(1).substr(0, 300)).find("400 {\"error\": \"the body: cannot decode PNG"),
            std::string::npos);
  EXPECT_EQ(status_and_body(std::string(5000, 'x')).substr(0, 4), "413 ");
  EXPECT_EQ(status_and_body(png_body(2)).substr(0, 4), "200 ");
  const auto health = client.Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->body, "ok\n");
  const auto metrics = client.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find("l2w_requests_total{outcome=\"bad_request\",code=\"400\"} 3\n"), std::string::npos)
      << metrics->body;
  EXPECT_NE(metrics->body.find("l2w_requests_total{outcome=\"too_large\",code=\"413\"} 1\n"), std::string::npos);
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

}  // namespace
}  // namespace l2w
