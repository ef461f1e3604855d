#include "l2w/train/trainer.h"

#include <csignal>
#include <fstream>
#include <iostream>
#include <sstream>

#include "l2w/dataset/distributed_sampler.h"
#include "l2w/runtime/atomic_file.h"
#include "l2w/io/checkpoint.h"
#include "l2w/models/exit_cost.h"
#include "l2w/train/divergence.h"
#include "l2w/train/preemption.h"

namespace l2w::train {
namespace {

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
  runtime::write_file_atomically(path, kept.str());
}

// The one line a pre-empted run ends with.
std::string stopped_by(int signal, const std::string& where, const std::string& checkpoint) {
  const char* name = signal == SIGTERM ? "SIGTERM" : signal == SIGINT ? "SIGINT" : signal == SIGUSR1 ? "SIGUSR1" : "a signal";
  return std::string("stopped by ").append(name).append(" ").append(where).append(": ").append(checkpoint)
      .append(" holds the run's place; the same command continues it");
}

// Puts the network on the device first, so that its parameters there are the ones kept in step.
std::vector<torch::Tensor> parameters_on(models::MultiExitNetworkImpl& net, const torch::Device& device) {
  net.to(device);
  return net.parameters();
}

}  // namespace

const options::OptionList<TrainerOptions>& TrainerOptions::option_list() {
  using namespace options;
  using T = TrainerOptions;
  static const OptionList<T> list = joined<T>({
      {
          value<T>("train_url", {"--train_url", "--save"}, L2W_FIELD(run_dir), "run folder: scores, checkpoints, results")
              .in("run"),
          value<T>("batch_size", {"--batch-size", "-b"}, L2W_FIELD(batch_size),
                   "images per batch (training: over all processes)", Check::kPositive)
              .in("run"),
          value<T>("print_freq", {"--print-freq", "-p"}, L2W_FIELD(print_freq), "a progress line every N iterations (0: none)",
                   Check::kNonNegative)
              .in("run"),
          value<T>("seed", {"--seed"}, L2W_FIELD(seed), "seed of initialisation, data order and augmentation",
                   Check::kNonNegative)
              .in("runtime"),
          choice<T>("amp", {"--amp"}, L2W_FIELD(amp),
                    named({runtime::Amp::kOff, runtime::Amp::kBf16, runtime::Amp::kFp16}, runtime::amp_name),
                    "mixed precision of the real step and evaluation (fp16: loss-scaled)")
              .in("precision"),
          value<T>("workers", {"--workers", "-j"}, L2W_FIELD(workers), "data loader threads (image folders: decode threads)",
                   Check::kPositive)
              .in("data"),
          switch_option<T>("skip_bad_images", {"--skip-bad-images"}, L2W_FIELD(skip_bad_images),
                           "skip and count image files that cannot be decoded")
              .in("data"),
          switch_option<T>("use_valid", {"--use_valid", "--use-valid"}, L2W_FIELD(use_valid),
                           "hold out num_sample_valid training images to choose thresholds on")
              .in("data"),
          value<T>("num_sample_valid", {"--num_sample_valid"}, L2W_FIELD(num_sample_valid),
                   "held-out training images (ImageNet: 50000)", Check::kPositive)
              .in("data"),
          value<T>("epochs", {"--epochs"}, L2W_FIELD(epochs), "training epochs", Check::kPositive).in("optimizer"),
          value<T>("resume", {"--resume"}, L2W_FIELD(resume), "checkpoint to resume from (default: the run folder's latest)")
              .in("optimizer"),
          value<T>("save_every", {"--save-every", "--save_every"}, L2W_FIELD(save_every),
                   "also checkpoint every N iterations inside an epoch (SIGTERM, SIGINT or SIGUSR1 always write one)",
                   Check::kNonNegative)
              .in("optimizer"),
          value<T>("finetune_from", {"--finetune_from"}, L2W_FIELD(finetune_from),
                   "initial weights from this checkpoint (l2w's or Python's)")
              .in("optimizer"),
          choice<T>("cuda_graphs", {"--cuda-graphs", "--cuda_graphs"}, L2W_FIELD(cuda_graphs), {{"on", true}, {"off", false}},
                    "on a GPU: capture the training iteration as CUDA graphs and replay them")
              .in("optimizer"),
      },
      nested<T>(SgdOptions::option_list(), L2W_FIELD(sgd)),
      nested<T>(LrSchedule::option_list(), L2W_FIELD(schedule)),
  });
  return list;
}

TrainerOptions complete_trainer_options(TrainerOptions o, const std::string& data, const std::string& imta_from) {
  check_sgd_options(o.sgd());
  o.schedule().base_lr = o.sgd().lr();
  if (o.schedule().milestones.empty()) o.schedule().milestones = default_milestones(data, o.epochs());
  if (!imta_from.empty()) o.adopt_valid_index(io::run_folder_of_checkpoint(imta_from).valid_index());
  return o;
}

Trainer::Trainer(models::MultiExitNetwork net, const models::NetworkOptions& arch, const dataset::DataSplits& data,
                 const TrainerOptions& options, const StepFactory& make_step)
    : net_(std::move(net)),
      arch_(arch),
      data_(data),
      options_(options),
      parallel_(parameters_on(*net_, options_.device()), options_.communicator()),
      quiet_(options_.quiet() || !parallel_.is_main()),
      checkpoints_(io::RunFolder(options_.run_dir()), arch,
                   RunCheckpointsOptions().resume(options_.resume()).finetune_from(options_.finetune_from()).quiet(quiet_),
                   parallel_.communicator()) {
  const int64_t world = parallel_.world_size();
  const int64_t per_rank_batch = distributed::share_of_batch(options_.batch_size(), world);
  if (parallel_.is_main()) checkpoints_.folder().create();
  dataset::SplitOptions split_options;
  split_options.use_valid = options_.use_valid();
  split_options.num_valid = options_.num_sample_valid();
  split_options.seed = options_.seed();
  split_options.adopt_from = options_.adopt_valid_index();
  split_ = checkpoints_.split(data_.train->size(), split_options);

  train_loader_ = std::make_unique<dataset::BatchLoader>(data_.train, split_.train,
                                                         dataset::LoaderOptions()
                                                             .batch_size(per_rank_batch)
                                                             .world_size(world)
                                                             .rank(parallel_.rank())
                                                             .shuffle(true)
                                                             .augment(true)
                                                             .seed(options_.seed())
                                                             .workers(options_.workers())
                                                             .skip_bad_images(options_.skip_bad_images())
                                                             .pin_memory(options_.device().is_cuda()));
  test_loader_ = evaluation_loader(data_.test, {});
  auto schedule = options_.schedule();
  schedule.epochs = options_.epochs();
  schedule.iterations_per_epoch = train_loader_->num_batches();
  const bool graphs = options_.cuda_graphs() && options_.device().is_cuda();
  if (graphs && world > 1 && !quiet_) std::cout << "CUDA graphs: off (data-parallel steps run eagerly)" << std::endl;
  learner_.emplace(net_,
                   LearnerOptions().sgd(options_.sgd()).schedule(schedule).guarded(false).cuda_graphs(graphs && world == 1),
                   make_step, &parallel_);
  progress_.emplace(options_.epochs(), train_loader_->num_batches(), train_loader_->num_samples(), world,
                    options_.print_freq(), quiet_);
}

TrainResult Trainer::run() {
  resume();
  const int64_t end = options_.stop_after() > 0 ? std::min(options_.epochs(), start_.epoch + options_.stop_after())
                                                : options_.epochs();
  for (int64_t epoch = start_.epoch; epoch < end; ++epoch) {
    EpochMeter meter = run_epoch(epoch);
    evaluate_and_checkpoint(epoch, meter);
    if (const int signal = stop_signal(); signal != 0 && epoch + 1 < end)
      throw Preempted(
          stopped_by(signal, "after epoch " + std::to_string(epoch + 1), checkpoints_.folder().checkpoint(epoch + 1)));
  }
  finish();
  return result_;
}

void Trainer::resume() {
  net_->train();
  result_.costs = models::exit_costs(*net_, data_.train->image_shape());
  if (parallel_.is_main()) io::write_flops(checkpoints_.folder().flops(), result_.costs);
  start_ = checkpoints_.resume(*net_, learner_->sgd(), learner_->step());
  result_.best_prec1 = start_.best_prec1;
  replicated_ = net_->parameters();
  for (const auto& t : learner_->step().shared_state()) replicated_.push_back(t);
  // Every rank starts from rank 0's parameters (a fresh start on another machine may draw others).
  parallel_.broadcast_from_main(replicated_);
  if (parallel_.is_main())
    trim_scores(checkpoints_.folder().scores(), start_.epoch,
                scores_header(net_->num_exits(), learner_->step().has_meta()));
}

EpochMeter Trainer::run_epoch(int64_t epoch) {
  EpochMeter meter(net_->num_exits());
  // Every 5 epochs and in the last 20, as the reference records them.
  const bool record = (epoch + 1) % 5 == 0 || epoch >= options_.epochs() - 20;
  per_sample_.reset();
  if (record) per_sample_.emplace();
  const int64_t first = epoch == start_.epoch ? start_.iteration() : 0;
  if (first > 0) restore_epoch_progress(*start_.within_epoch, meter);
  net_->train();
  train_loader_->start_epoch(epoch, first);
  progress_->start_epoch(epoch);
  int64_t it = first;
  while (auto batch = train_loader_->next()) {
    if (batch->labels.size(0) == 0) {  // every image of the batch was undecodable and skipped
      // The other ranks are stepping: this one cannot sit the step out.
      if (parallel_.world_size() > 1) throw dataset::DataError("every image of a training batch was undecodable");
      ++it;  // it counts the loader's batches: a resume inside the epoch starts from it
      continue;
    }
    const auto images = batch->images.to(options_.device(), /*non_blocking=*/true);
    const auto labels = batch->labels.to(options_.device(), /*non_blocking=*/true);
    const StepReport report = learner_->learn(images, labels, epoch, it);
    divergence_.add(report, epoch + 1, it + 1);
    meter.add(report, labels);
    if (per_sample_) per_sample_->add(batch->indices, report);
    // The host reads whether the run diverged where it reads anyway: at progress lines (every rank at
    // the same iterations), before checkpoints and at the epoch's end.
    if (options_.print_freq() > 0 && (it + 1) % options_.print_freq() == 0) divergence_.check();
    progress_->iteration_done(it, labels.size(0), learner_->lr(), meter);
    if (options_.on_iteration())
      options_.on_iteration()({epoch, it, train_loader_->num_batches(), learner_->lr(), labels.size(0)});
    ++it;
    checkpoint_within_epoch(epoch, it, meter);
  }
  divergence_.check();
  if (train_loader_->bad_images() > 0 && !quiet_)
    std::cout << "Epoch " << epoch + 1 << ": skipped " << train_loader_->bad_images()
              << " training images that could not be decoded" << std::endl;
  return meter;
}

void Trainer::evaluate_and_checkpoint(int64_t epoch, EpochMeter& meter) {
  meter.sum_over_ranks(parallel_.communicator());
  parallel_.check_replicas(replicated_, "parameters after epoch " + std::to_string(epoch + 1));
  if (per_sample_) {
    per_sample_->gather(parallel_.communicator());
    if (parallel_.is_main()) per_sample_->write(checkpoints_.folder(), epoch + 1);
  }
  test_outputs_ = evaluate(*test_loader_);
  result_.last_test = eval::anytime_metrics(*test_outputs_);
  if (!quiet_)
    std::cout << "Epoch " << epoch + 1 << " test:\n" << eval::anytime_table(result_.last_test, result_.costs);
  const double prec1 = result_.last_test.back().top1;
  const bool is_best = prec1 > result_.best_prec1;
  result_.best_prec1 = std::max(result_.best_prec1, prec1);
  ++result_.epochs_run;
  if (!parallel_.is_main()) return;
  append_scores(epoch, meter);
  save(epoch, is_best);
}

void Trainer::finish() {
  if (!test_outputs_) {
    // Nothing left to train (a finished run resumed): report the current model.
    test_outputs_ = evaluate(*test_loader_);
    result_.last_test = eval::anytime_metrics(*test_outputs_);
  }
  if (parallel_.is_main()) eval::write_anytime_csv(checkpoints_.folder().anytime(), result_.last_test, result_.costs);
  // Budgeted evaluation of the final model, as the reference ends its training.
  auto valid_loader = evaluation_loader(data_.train, split_.valid);
  const auto valid = eval::exit_confidences(evaluate(*valid_loader));
  result_.dynamic = eval::dynamic_sweep(valid, eval::exit_confidences(*test_outputs_), result_.costs);
  if (parallel_.is_main()) eval::write_dynamic(checkpoints_.folder().dynamic(), result_.dynamic);
}

// The outputs of rank 0's model, every rank evaluating its shard: equal to one process's
// collect_outputs over the whole loader.
eval::ExitOutputs Trainer::evaluate(dataset::BatchLoader& loader) {
  parallel_.broadcast_from_main(net_->buffers());  // BatchNorm statistics differ between ranks
  auto outputs = eval::collect_outputs(*net_, loader, options_.device(), options_.amp());
  if (auto* comm = parallel_.communicator()) {
    for (auto& logits : outputs.logits)
      logits = dataset::unshard_rows(distributed::all_gather_rows(*comm, logits), comm->world_size());
    outputs.labels = dataset::unshard_rows(distributed::all_gather_rows(*comm, outputs.labels), comm->world_size());
  }
  return outputs;
}

void Trainer::append_scores(int64_t epoch, const EpochMeter& meter) const {
  std::ostringstream scores;
  const auto& step = learner_->step();
  scores << epoch + 1 << '\t' << learner_->lr();
  if (step.has_meta()) scores << '\t' << step.meta_lr();
  for (size_t k = 0; k < meter.loss.size(); ++k) scores << '\t' << meter.mean_loss(k);
  for (size_t k = 0; k < meter.loss.size(); ++k) scores << '\t' << meter.top1(k);
  if (step.has_meta()) scores << '\t' << meter.mean_meta_loss();
  for (const auto& m : result_.last_test) scores << '\t' << m.loss;
  for (const auto& m : result_.last_test) scores << '\t' << m.top1;
  scores << '\n';
  runtime::append_file_atomically(checkpoints_.folder().scores(), scores.str());
}

io::Checkpoint Trainer::checkpoint(int64_t epochs_done) const {
  io::Checkpoint c;
  c.epoch = epochs_done;
  c.arch = net_->arch();
  c.config = models::describe(arch_);
  c.state_dict = io::state_dict(*net_);
  c.optimizer = learner_->sgd().state_dict();
  c.best_prec1 = result_.best_prec1;
  learner_->step().save(c);
  check_finite(c);
  return c;
}

void Trainer::save(int64_t epoch, bool is_best) {
  divergence_.check();
  const io::Checkpoint c = checkpoint(epoch + 1);
  checkpoints_.save(c);
  if (is_best) checkpoints_.save_best(c);
}

void Trainer::checkpoint_within_epoch(int64_t epoch, int64_t done, const EpochMeter& meter) {
  const int signal = stop_signal();
  const int64_t every = options_.save_every();
  const bool periodic = every > 0 && done % every == 0 && done < train_loader_->num_batches();
  if (signal == 0 && !periodic) return;
  divergence_.check();  // on every rank, before the collective below
  auto progress = epoch_progress(done, meter);  // every rank takes part
  const std::string path = checkpoints_.folder().checkpoint_within_epoch(epoch, done);
  if (parallel_.is_main()) {
    io::Checkpoint c = checkpoint(epoch);
    c.within_epoch = std::move(progress);
    checkpoints_.save(c);
  }
  if (signal == 0) return;
  if (auto* comm = parallel_.communicator()) comm->barrier();  // the checkpoint is written before anyone stops
  throw Preempted(stopped_by(signal,
                             "in epoch " + std::to_string(epoch + 1) + " after iteration " + std::to_string(done) +
                                 " of " + std::to_string(train_loader_->num_batches()),
                             path));
}

int Trainer::stop_signal() const {
  int signal = StopSignals::received();
  if (auto* comm = parallel_.communicator()) {
    for (const auto& s : comm->all_gather(torch::tensor({int64_t{signal}}, torch::kInt64)))
      signal = std::max(signal, static_cast<int>(s.item<int64_t>()));
  }
  return signal;
}

// The interrupted epoch's running figures of every rank (rows in rank order), so that its scores.tsv row
// and per-sample records are those of an uninterrupted epoch.
io::EpochProgress Trainer::epoch_progress(int64_t done, const EpochMeter& meter) const {
  auto* comm = parallel_.communicator();
  auto gather = [&](const torch::Tensor& rows) { return comm ? distributed::all_gather_rows(*comm, rows) : rows; };
  io::EpochProgress progress;
  progress.iteration = done;
  progress.meters = gather(meter.state().unsqueeze(0));
  if (per_sample_)
    for (const auto& t : per_sample_->state()) progress.per_sample.push_back(gather(t));
  return progress;
}

void Trainer::restore_epoch_progress(const io::EpochProgress& progress, EpochMeter& meter) {
  const int64_t world = parallel_.world_size(), rank = parallel_.rank();
  if (progress.meters.size(0) != world)
    throw io::CheckpointError("the checkpoint was written inside an epoch by a job of " +
                              std::to_string(progress.meters.size(0)) + " processes: resume it with as many");
  auto mine = [&](const torch::Tensor& rows) {
    const int64_t n = rows.size(0) / world;
    return rows.slice(0, rank * n, (rank + 1) * n).to(options_.device());
  };
  meter.load_state(mine(progress.meters)[0]);
  std::vector<torch::Tensor> tables;
  for (const auto& t : progress.per_sample) tables.push_back(mine(t));
  if (per_sample_) per_sample_->load_state(tables);
}

// Evaluation shards partition a data set exactly (no padding) and are gathered (evaluate()).
std::unique_ptr<dataset::BatchLoader> Trainer::evaluation_loader(std::shared_ptr<const dataset::ImageDataset> set,
                                                                 std::vector<int64_t> subset) const {
  const int64_t world = parallel_.world_size();
  const auto loader_options = dataset::LoaderOptions()
                                  .batch_size(dataset::evaluation_batch_size(options_.batch_size() / world))
                                  .workers(options_.workers())
                                  .skip_bad_images(options_.skip_bad_images())
                                  .world_size(world)
                                  .rank(parallel_.rank())
                                  .pad_shards(false)
                                  .pin_memory(options_.device().is_cuda());
  return std::make_unique<dataset::BatchLoader>(std::move(set), std::move(subset), loader_options);
}

}  // namespace l2w::train
