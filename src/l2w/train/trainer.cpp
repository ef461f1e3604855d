#include "l2w/train/trainer.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>

#include "l2w/criterion/multi_exit_loss.h"
#include "l2w/eval/accuracy.h"
#include "l2w/io/atomic_file.h"
#include "l2w/dataset/distributed_sampler.h"
#include "l2w/dataset/validation_split.h"
#include "l2w/models/exit_cost.h"

namespace l2w::train {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

std::string format_duration(double s) {
  char buf[32];
  const auto total = static_cast<long long>(s);
  std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", total / 3600, (total / 60) % 60, total % 60);
  return buf;
}

// Running per-exit means over an epoch's training batches. The sums stay on the device and are read
// only when a progress line or the epoch's figures need them: no wait for the device per iteration.
struct EpochMeter {
  explicit EpochMeter(int64_t exits) : loss(exits, 0.0), correct(exits, 0) {}
  void add(const StepReport& r, const torch::Tensor& labels) {
    const int64_t n = labels.size(0);
    auto losses = r.losses.sum(0).to(torch::kFloat64);
    std::vector<torch::Tensor> per_exit;
    for (const auto& logits : r.logits) per_exit.push_back(eval::topk_hits(logits, labels, 1));
    auto hits = torch::stack(per_exit);
    loss_sum_ = loss_sum_.defined() ? loss_sum_ + losses : losses;
    correct_sum_ = correct_sum_.defined() ? correct_sum_ + hits : hits;
    if (r.meta_loss.defined()) {
      const auto m = r.meta_loss.to(torch::kFloat64);
      meta_sum_ = meta_sum_.defined() ? meta_sum_ + m : m;
      ++meta_steps;
    }
    samples += n;
  }
  // Brings the device sums to the host figures below.
  void read() {
    if (!loss_sum_.defined()) return;
    const auto l = loss_sum_.cpu();
    const auto c = correct_sum_.cpu();
    for (size_t k = 0; k < loss.size(); ++k) {
      loss[k] = l[k].item<double>();
      correct[k] = c[k].item<int64_t>();
    }
    meta_loss = meta_sum_.defined() ? meta_sum_.item<double>() : 0.0;
  }
  // The epoch's figures over every rank's samples.
  void sum_over_ranks(distributed::Communicator* comm) {
    read();
    if (comm == nullptr) return;
    std::vector<double> packed(loss);
    packed.insert(packed.end(), correct.begin(), correct.end());
    packed.insert(packed.end(), {meta_loss, double(meta_steps), double(samples)});
    auto t = torch::tensor(packed, torch::kFloat64);
    comm->all_reduce_sum(t);
    const auto* p = t.data_ptr<double>();
    const size_t k = loss.size();
    for (size_t i = 0; i < k; ++i) {
      loss[i] = p[i];
      correct[i] = static_cast<int64_t>(p[k + i]);
    }
    meta_loss = p[2 * k];
    meta_steps = static_cast<int64_t>(p[2 * k + 1]);
    samples = static_cast<int64_t>(p[2 * k + 2]);
  }
  double mean_loss(size_t k) const { return loss[k] / double(samples); }
  double top1(size_t k) const { return 100.0 * double(correct[k]) / double(samples); }
  double mean_meta_loss() const { return meta_steps ? meta_loss / double(meta_steps) : std::nan(""); }

  std::vector<double> loss;
  std::vector<int64_t> correct;
  double meta_loss = 0;
  int64_t meta_steps = 0;
  int64_t samples = 0;

 private:
  torch::Tensor loss_sum_, correct_sum_, meta_sum_;  // [K] float64, [K] int64, 0-dim float64
};

std::string scores_header(int64_t exits, bool meta) {
  std::ostringstream h;
  h << "epoch\tlr";
  if (meta) h << "\tmeta_lr";
  for (int64_t k = 1; k <= exits; ++k) h << "\ttrain_loss_" << k;
  for (int64_t k = 1; k <= exits; ++k) h << "\ttrain_prec1_" << k;
  if (meta) h << "\tmeta_loss";
  for (int64_t k = 1; k <= exits; ++k) h << "\tval_loss_" << k;
  for (int64_t k = 1; k <= exits; ++k) h << "\tval_prec1_" << k;
  return h.str();
}

// Keeps the header and the rows of epochs up to `epochs_done`: a kill between the scores row and the
// checkpoint must not leave a row that the resumed run writes again.
void trim_scores(const std::string& path, int64_t epochs_done, const std::string& header) {
  std::ifstream in(path);
  std::ostringstream kept;
  kept << header << '\n';
  std::string line;
  if (in && std::getline(in, line)) {
    while (std::getline(in, line)) {
      if (!line.empty() && std::stoll(line.substr(0, line.find('\t'))) <= epochs_done) kept << line << '\n';
    }
  }
  io::write_file_atomically(path, kept.str());
}

// The per-sample losses, confidences and weights of one epoch (SPEC §5), one row per sample (its index
// in the training set first), one column per exit.
class PerSampleRecord {
 public:
  // Kept where the step left them (on the GPU: no wait per iteration) until the epoch is written.
  void add(const torch::Tensor& indices, const StepReport& r) {
    indices_.push_back(indices.to(r.losses.device(), /*non_blocking=*/true));
    losses_.push_back(r.losses);
    confidences_.push_back(criterion::per_exit_confidences(r.logits));
    if (r.weights.defined()) weights_.push_back(r.weights);
  }
  // Every rank's rows (padding makes a few samples appear twice).
  void gather(distributed::Communicator* comm) {
    if (comm == nullptr) return;
    for (auto* part : {&indices_, &losses_, &confidences_, &weights_}) {
      if (!part->empty()) *part = {distributed::all_gather_rows(*comm, torch::cat(*part))};
    }
  }
  void write(const RunFolder& folder, int64_t epoch) const {
    std::filesystem::create_directories(folder.file("per_sample"));
    char stem[64];
    std::snprintf(stem, sizeof stem, "per_sample/epoch_%03lld_", static_cast<long long>(epoch));
    const auto index = torch::cat(indices_).cpu();
    write_table(folder.file(std::string(stem) + "losses.tsv"), index, torch::cat(losses_).cpu());
    write_table(folder.file(std::string(stem) + "confidences.tsv"), index, torch::cat(confidences_).cpu());
    if (!weights_.empty())
      write_table(folder.file(std::string(stem) + "weights.tsv"), index, torch::cat(weights_).cpu());
  }

 private:
  static void write_table(const std::string& path, const torch::Tensor& index, const torch::Tensor& values) {
    std::ostringstream out;
    out << "sample";
    for (int64_t k = 1; k <= values.size(1); ++k) out << "\texit_" << k;
    out << '\n';
    const auto v = values.to(torch::kFloat64).contiguous();
    const auto* p = v.data_ptr<double>();
    const auto* idx = index.data_ptr<int64_t>();
    for (int64_t i = 0; i < v.size(0); ++i) {
      out << idx[i];
      for (int64_t k = 0; k < v.size(1); ++k) out << '\t' << p[i * v.size(1) + k];
      out << '\n';
    }
    io::write_file_atomically(path, out.str());
  }

  std::vector<torch::Tensor> indices_, losses_, confidences_, weights_;
};

// The test (or validation) outputs of rank 0's model, every rank evaluating its shard: equal to one
// process's collect_outputs over the whole loader.
eval::ExitOutputs evaluate(models::MultiExitNetworkImpl& net, dataset::BatchLoader& loader, const torch::Device& device,
                           runtime::Amp amp, const distributed::DataParallel& parallel) {
  parallel.broadcast_from_main(net.buffers());  // BatchNorm statistics differ between ranks
  auto outputs = eval::collect_outputs(net, loader, device, amp);
  if (auto* comm = parallel.communicator()) {
    for (auto& logits : outputs.logits)
      logits = dataset::unshard_rows(distributed::all_gather_rows(*comm, logits), comm->world_size());
    outputs.labels = dataset::unshard_rows(distributed::all_gather_rows(*comm, outputs.labels), comm->world_size());
  }
  return outputs;
}

}  // namespace

void check_architecture(const io::Checkpoint& checkpoint, const std::string& path, const models::NetworkOptions& arch) {
  const std::string expected = models::describe(arch);
  if (!checkpoint.config.empty() && checkpoint.config != expected)
    throw io::CheckpointError(path + ": checkpoint is of another architecture or class count: it holds [" +
                          checkpoint.config + "], the flags ask for [" + expected + "]");
}

TrainResult train(models::MultiExitNetwork net, const models::NetworkOptions& arch, const dataset::DataSplits& data,
                  TrainerOptions options, const StepFactory& make_step) {
  RunFolder folder(options.run_dir);
  net->to(options.device);
  net->train();
  const int64_t exits = net->num_exits();
  distributed::DataParallel parallel(net->parameters(), options.communicator);
  const int64_t world = parallel.world_size();
  const bool is_main = parallel.is_main();
  if (!is_main) options.quiet = true;
  if (options.batch_size % world != 0)
    throw std::invalid_argument("the batch size " + std::to_string(options.batch_size) + " does not divide among " +
                                std::to_string(world) + " processes");

  // SPEC §3: with use_valid, a saved held-out subset for the thresholds; otherwise the whole training set.
  dataset::TrainValidSplit split;
  if (options.use_valid) {
    const std::string path = folder.file("valid_index.txt");
    if (is_main) split = dataset::load_or_make_split(path, data.train->size(), options.num_sample_valid, options.seed);
    if (auto* comm = parallel.communicator()) comm->barrier();
    if (!is_main) split = dataset::load_split(path, data.train->size());
  }
  // Evaluation shards partition a data set exactly (no padding) and are gathered (evaluate()).
  const auto evaluation_loader = [&](std::shared_ptr<const dataset::ImageDataset> set, std::vector<int64_t> subset) {
    const auto loader_options = dataset::LoaderOptions()
                                    .batch_size(std::max<int64_t>(options.batch_size / world, 256))
                                    .workers(options.workers)
                                    .skip_bad_images(options.skip_bad_images)
                                    .world_size(world)
                                    .rank(parallel.rank())
                                    .pad_shards(false)
                                    .pin_memory(options.device.is_cuda());
    return std::make_unique<dataset::BatchLoader>(std::move(set), std::move(subset), loader_options);
  };
  dataset::BatchLoader train_loader(
      data.train, split.train,
      dataset::LoaderOptions()
          .batch_size(options.batch_size / world)
          .world_size(world)
          .rank(parallel.rank())
          .shuffle(true)
          .augment(true)
          .seed(options.seed)
          .workers(options.workers)
          .skip_bad_images(options.skip_bad_images)
          .pin_memory(options.device.is_cuda()));
  auto test_loader = evaluation_loader(data.test, {});
  options.schedule.epochs = options.epochs;
  options.schedule.iterations_per_epoch = train_loader.num_batches();

  Sgd sgd(net->parameters(), options.sgd);
  std::unique_ptr<TrainStep> step = make_step(*net, sgd, &parallel);

  TrainResult result;
  result.costs = models::exit_costs(*net, data.train->image_shape());
  if (is_main) write_flops(folder.flops(), result.costs);

  // Resume: an explicit --resume, else the run folder's latest checkpoint.
  int64_t start_epoch = 0;
  const std::optional<std::string> resume_path =
      options.resume.empty() ? folder.latest_checkpoint() : std::optional<std::string>(options.resume);
  const std::string header = scores_header(exits, step->has_meta());
  if (resume_path) {
    const io::Checkpoint c = io::load_checkpoint(*resume_path);
    check_architecture(c, *resume_path, arch);
    io::load_state_dict(*net, c.state_dict, *resume_path);
    if (!c.optimizer.isNone()) sgd.load_state_dict(c.optimizer);
    step->load(c);
    start_epoch = c.epoch;
    result.best_prec1 = c.best_prec1;
    if (!options.quiet) std::cout << "resuming from " << *resume_path << " after epoch " << start_epoch << std::endl;
  } else if (!options.finetune_from.empty()) {
    // Fine-tuning: the weights only; epochs, optimizer and WPN start afresh.
    const io::Checkpoint c = io::load_checkpoint(options.finetune_from);
    check_architecture(c, options.finetune_from, arch);
    io::load_state_dict(*net, c.state_dict, options.finetune_from);
    if (!options.quiet) std::cout << "starting from the weights of " << options.finetune_from << std::endl;
  }
  if (auto* comm = parallel.communicator()) {
    const auto starts = comm->all_gather(torch::tensor({start_epoch}, torch::kInt64));
    for (int64_t r = 0; r < world; ++r) {
      const int64_t start = starts[r].item<int64_t>();
      if (start != starts[0].item<int64_t>())
        throw std::runtime_error("rank " + std::to_string(r) + " resumes after epoch " + std::to_string(start) +
                                 " but rank 0 after epoch " + std::to_string(starts[0].item<int64_t>()) +
                                 ": every rank must see the same run folder " + options.run_dir);
    }
  }
  // What every rank must hold alike: the backbone's parameters and the method's own (the WPN's).
  std::vector<torch::Tensor> replicated = net->parameters();
  for (const auto& t : step->shared_state()) replicated.push_back(t);
  // Every rank starts from rank 0's parameters (a fresh start on another machine may draw others).
  parallel.broadcast_from_main(replicated);
  if (is_main) trim_scores(folder.scores(), start_epoch, header);

  const int64_t iterations = train_loader.num_batches();
  const auto run_start = Clock::now();
  int64_t images_seen = 0;
  const int64_t end_epoch =
      options.stop_after > 0 ? std::min(options.epochs, start_epoch + options.stop_after) : options.epochs;
  std::optional<eval::ExitOutputs> test_outputs;  // of the latest model
  for (int64_t epoch = start_epoch; epoch < end_epoch; ++epoch) {
    EpochMeter meter(exits);
    // Every 5 epochs and in the last 20, as the reference records them.
    const bool record = (epoch + 1) % 5 == 0 || epoch >= options.epochs - 20;
    PerSampleRecord per_sample;
    net->train();
    train_loader.start_epoch(epoch);
    int64_t it = 0;
    auto window_start = Clock::now();
    int64_t window_images = 0;
    double lr = 0;
    while (auto batch = train_loader.next()) {
      if (batch->labels.size(0) == 0) {  // every image of the batch was undecodable and skipped
        // The other ranks are stepping: this one cannot sit the step out.
        if (world > 1) throw dataset::DataError("every image of a training batch was undecodable");
        continue;
      }
      lr = options.schedule.at(epoch, it);
      sgd.options().lr(lr);
      const auto images = batch->images.to(options.device, /*non_blocking=*/true);
      const auto labels = batch->labels.to(options.device, /*non_blocking=*/true);
      const StepReport report = step->run(images, labels, {it, lr / options.schedule.base_lr});
      meter.add(report, labels);
      if (record) per_sample.add(batch->indices, report);
      window_images += labels.size(0);
      images_seen += labels.size(0);
      ++it;
      if (!options.quiet && options.print_freq > 0 && (it % options.print_freq == 0 || it == iterations)) {
        meter.read();
        // Every rank trains as many images as this one.
        const double rate = double(world * window_images) / seconds_since(window_start);
        const double overall = double(images_seen) / seconds_since(run_start);
        const double remaining_images =
            double((options.epochs - epoch) * train_loader.num_samples()) - double(meter.samples);
        std::ostringstream line;
        line << "Epoch [" << epoch + 1 << "/" << options.epochs << "][" << it << "/" << iterations << "] lr "
             << lr;
        char buf[64];
        line << "  loss";
        for (int64_t k = 0; k < exits; ++k) {
          std::snprintf(buf, sizeof buf, " %.3f", meter.mean_loss(k));
          line << buf;
        }
        line << "  top1";
        for (int64_t k = 0; k < exits; ++k) {
          std::snprintf(buf, sizeof buf, " %.1f", meter.top1(k));
          line << buf;
        }
        if (meter.meta_steps) {
          std::snprintf(buf, sizeof buf, "  meta %.4f", meter.mean_meta_loss());
          line << buf;
        }
        std::snprintf(buf, sizeof buf, "  %.1f img/s  ETA %s", rate, format_duration(remaining_images / overall).c_str());
        line << buf;
        std::cout << line.str() << std::endl;
        window_start = Clock::now();
        window_images = 0;
      }
    }

    if (train_loader.bad_images() > 0 && !options.quiet)
      std::cout << "Epoch " << epoch + 1 << ": skipped " << train_loader.bad_images()
                << " training images that could not be decoded" << std::endl;
    meter.sum_over_ranks(parallel.communicator());
    parallel.check_replicas(replicated, "parameters after epoch " + std::to_string(epoch + 1));
    if (record) {
      per_sample.gather(parallel.communicator());
      if (is_main) per_sample.write(folder, epoch + 1);
    }
    test_outputs = evaluate(*net, *test_loader, options.device, options.amp, parallel);
    result.last_test = eval::anytime_metrics(*test_outputs);
    if (!options.quiet) {
      std::cout << "Epoch " << epoch + 1 << " test:\n" << eval::anytime_table(result.last_test, result.costs);
    }

    const double prec1 = result.last_test.back().top1;
    const bool is_best = prec1 > result.best_prec1;
    result.best_prec1 = std::max(result.best_prec1, prec1);
    ++result.epochs_run;
    if (!is_main) continue;
    std::ofstream scores(folder.scores(), std::ios::app);
    scores << epoch + 1 << '\t' << lr;
    if (step->has_meta()) scores << '\t' << step->meta_lr();
    for (int64_t k = 0; k < exits; ++k) scores << '\t' << meter.mean_loss(k);
    for (int64_t k = 0; k < exits; ++k) scores << '\t' << meter.top1(k);
    if (step->has_meta()) scores << '\t' << meter.mean_meta_loss();
    for (const auto& m : result.last_test) scores << '\t' << m.loss;
    for (const auto& m : result.last_test) scores << '\t' << m.top1;
    scores << '\n';
    scores.close();

    io::Checkpoint c;
    c.epoch = epoch + 1;
    c.arch = net->arch();
    c.config = models::describe(arch);
    c.state_dict = io::state_dict(*net);
    c.optimizer = sgd.state_dict();
    c.best_prec1 = result.best_prec1;
    step->save(c);
    const std::string path = folder.checkpoint(epoch + 1);
    io::save_checkpoint(c, path);
    folder.set_latest(path);
    if (is_best) io::save_checkpoint(c, folder.best_checkpoint());
  }
  if (!test_outputs) {
    // Nothing left to train (a finished run resumed): report the current model.
    test_outputs = evaluate(*net, *test_loader, options.device, options.amp, parallel);
    result.last_test = eval::anytime_metrics(*test_outputs);
  }
  if (is_main) eval::write_anytime_csv(folder.file("anytime.csv"), result.last_test, result.costs);

  // Budgeted evaluation of the final model, as the reference ends its training.
  auto valid_loader = evaluation_loader(data.train, split.valid);
  const auto valid = eval::exit_confidences(evaluate(*net, *valid_loader, options.device, options.amp, parallel));
  const auto test = eval::exit_confidences(*test_outputs);  // the final model's, evaluated above
  result.dynamic = eval::dynamic_sweep(valid, test, result.costs);
  if (is_main) eval::write_dynamic(folder.file("dynamic.txt"), result.dynamic);
  return result;
}

}  // namespace l2w::train
