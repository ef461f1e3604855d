#include "l2w/train/run_checkpoints.h"

#include <cstdio>
#include <iostream>

namespace l2w::train {
namespace {

// The checkpoint to resume from, with its path: an explicit --resume (which must read), else the run
// folder's newest checkpoint that reads. A damaged or missing newest one is skipped with a warning, so that a
// file cut short by a full disk or a kill costs an epoch, not the run.
std::optional<std::pair<std::string, io::Checkpoint>> checkpoint_to_resume(const RunCheckpointsOptions& options,
                                                                           const io::RunFolder& folder) {
  if (!options.resume().empty()) return std::pair{options.resume(), io::load_checkpoint(options.resume())};
  const auto candidates = folder.resume_candidates();
  for (const auto& path : candidates) {
    try {
      return std::pair{path, io::load_checkpoint(path)};
    } catch (const io::CheckpointError& e) {
      if (!options.quiet()) std::cerr << "l2w: warning: " << e.what() << "; trying an older checkpoint" << std::endl;
    }
  }
  if (!candidates.empty())
    throw io::CheckpointError(folder.dir() + "/save_models: no checkpoint reads; resume from one you name (resume), or "
                              "move the run folder away to start afresh");
  return std::nullopt;
}

// Every rank must resume at the same place: they must all see the same run folder.
void check_same_start(distributed::Communicator& comm, int64_t epoch, int64_t iteration, const std::string& run_dir) {
  const auto starts = comm.all_gather(torch::tensor({epoch, iteration}, torch::kInt64));
  auto place = [&](int64_t r) {
    return "epoch " + std::to_string(starts[r][0].item<int64_t>()) + ", iteration " +
           std::to_string(starts[r][1].item<int64_t>());
  };
  for (int64_t r = 1; r < comm.world_size(); ++r) {
    if (!torch::equal(starts[r], starts[0]))
      throw std::runtime_error("rank " + std::to_string(r) + " resumes after " + place(r) + " but rank 0 after " +
                               place(0) + ": every rank must see the same run folder " + run_dir);
  }
}

}  // namespace

void check_architecture(const io::Checkpoint& checkpoint, const std::string& path, const models::NetworkOptions& arch) {
  if (checkpoint.config.empty()) return;  // the reference's checkpoints carry no description
  const auto differences = models::description_differences(checkpoint.config, arch);
  if (differences.empty()) return;
  std::string listed;
  for (const auto& d : differences) listed += (listed.empty() ? "" : "; ") + d;
  throw io::CheckpointError(path + ": checkpoint is of another architecture or class count (" + listed +
                            "): it holds [" + checkpoint.config + "], the flags ask for [" + models::describe(arch) + "]");
}

RunCheckpoints::RunCheckpoints(io::RunFolder folder, models::NetworkOptions arch, RunCheckpointsOptions options,
                               distributed::Communicator* comm)
    : folder_(std::move(folder)), arch_(std::move(arch)), options_(std::move(options)), comm_(comm) {}

dataset::TrainValidSplit RunCheckpoints::split(int64_t train_size, dataset::SplitOptions options) const {
  const bool is_main = comm_ == nullptr || comm_->rank() == 0;
  options.may_draw = is_main;
  dataset::TrainValidSplit split;
  if (is_main) split = dataset::run_split(folder_.valid_index(), train_size, options);
  if (comm_ != nullptr) comm_->barrier();
  if (!is_main) split = dataset::run_split(folder_.valid_index(), train_size, options);
  return split;
}

ResumePoint RunCheckpoints::resume(models::MultiExitNetworkImpl& net, Sgd& sgd, TrainStep& step) {
  ResumePoint start;
  if (const auto resumed = checkpoint_to_resume(options_, folder_)) {
    const auto& [path, c] = *resumed;
    check_architecture(c, path, arch_);
    io::load_state_dict(net, c.state_dict, path);
    if (!c.optimizer.isNone()) sgd.load_state_dict(c.optimizer);
    step.load(c);
    start.epoch = c.epoch;
    start.within_epoch = c.within_epoch;
    start.best_prec1 = c.best_prec1;
    if (c.within_epoch) within_epoch_checkpoint_ = path;
    if (!options_.quiet())
      std::cout << "resuming from " << path << " after epoch " << start.epoch
                << (c.within_epoch ? ", iteration " + std::to_string(start.iteration()) : std::string()) << std::endl;
  } else if (!options_.finetune_from().empty()) {
    const io::Checkpoint c = io::load_checkpoint(options_.finetune_from());
    check_architecture(c, options_.finetune_from(), arch_);
    io::load_state_dict(net, c.state_dict, options_.finetune_from());
    if (!options_.quiet()) std::cout << "starting from the weights of " << options_.finetune_from() << std::endl;
  }
  if (comm_ != nullptr) check_same_start(*comm_, start.epoch, start.iteration(), folder_.dir());
  return start;
}

std::string RunCheckpoints::save(const io::Checkpoint& c) {
  const std::string path = c.within_epoch ? folder_.checkpoint_within_epoch(c.epoch, c.within_epoch->iteration)
                                          : folder_.checkpoint(c.epoch);
  io::save_checkpoint(c, path);
  record_latest(path);
  if (c.within_epoch) within_epoch_checkpoint_ = path;
  return path;
}

void RunCheckpoints::save_best(const io::Checkpoint& c) const { io::save_checkpoint(c, folder_.best_checkpoint()); }

// latest.txt names `path`; the previous checkpoint inside an epoch, now superseded, goes.
void RunCheckpoints::record_latest(const std::string& path) {
  folder_.set_latest(path);
  if (!within_epoch_checkpoint_.empty() && within_epoch_checkpoint_ != path) std::remove(within_epoch_checkpoint_.c_str());
  within_epoch_checkpoint_.clear();
}

}  // namespace l2w::train
