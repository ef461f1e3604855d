#include "training_flags.h"

#include "command_support.h"
#include "l2w/distributed/data_parallel.h"
#include "l2w/distributed/process_group.h"
#include "l2w/train/trained_network.h"

namespace l2w::cli {
namespace {

distributed::JobOptions job_options(const TrainFlags& flags) {
  try {
    return distributed::resolve_job(flags.job);
  } catch (const std::invalid_argument& e) {
    throw flag_error(e);
  }
}

}  // namespace

void add_training_flags(CLI::App& app, TrainFlags& f) {
  add_run_flags(app, f.common);
  add_precision_flag(app, f.common);
  add_options(app, f.common.run, train::TrainerOptions::option_list(), "optimizer");
  add_options(app, f.method, meta::MethodOptions::option_list(), "optimizer");
  app.add_flag("--gradient-equilibrium,--GE", f.gradient_equilibrium,
               "IMTA's gradient equilibrium (MSDNet): block k gets its exit's gradient over (n-k) and the later "
               "blocks' times (n-k-1)/(n-k)");
  register_flag("gradient_equilibrium", "--gradient-equilibrium");
  add_options(app, f.method, meta::MethodOptions::option_list(), "meta");
  auto* from = app.add_option("--imta-from", f.imta_from, "--imta-stage2: the first stage's checkpoint (its backbone, frozen)");
  register_flag("imta_from", "--imta-from");
  app.add_flag("--imta-freeze-backbone-bn", f.imta_freeze_backbone_bn,
               "--imta-stage2: keep the frozen backbone in eval mode, its BatchNorm statistics unchanged (IMTA's own "
               "code normalises it with each batch's statistics and updates them)")
      ->needs(from);
  // The distillation's options mean something only for the second stage.
  for (const auto* flag : {"--kd-temperature", "--kd-gamma"}) app.get_option(flag)->needs(from);
  add_options(app, f.job, distributed::JobRequest::option_list(), "distributed");
}

train::TrainerOptions trainer_options(const TrainFlags& f, const torch::Device& device) {
  try {
    return train::complete_trainer_options(f.common.run, f.common.model.data.name, f.imta_from).device(device);
  } catch (const std::invalid_argument& e) {
    throw flag_error(e);
  }
}

meta::MethodOptions method_options(const TrainFlags& f) {
  auto o = f.method;
  return o.amp(f.common.run.amp());
}

models::MultiExitNetwork build_network(const TrainFlags& f, const models::NetworkOptions& options) {
  try {
    return train::build_network(train::NetworkBuildOptions()
                                    .arch(options)
                                    .seed(f.common.run.seed())
                                    .gradient_equilibrium(f.gradient_equilibrium)
                                    .imta_from(f.imta_from)
                                    .imta_freeze_backbone_bn(f.imta_freeze_backbone_bn));
  } catch (const std::invalid_argument& e) {
    throw flag_error(e);
  }
}

std::shared_ptr<distributed::Communicator> join_job(const TrainFlags& flags, torch::Device& device) {
  const auto job = job_options(flags);
  if (!job.distributed()) return nullptr;
  if (!distributed::c10d_available())
    throw FlagError("a job of " + std::to_string(job.world_size) +
                    " processes needs c10d, and this l2w was built without it (Debian: libgloo-dev)");
  if (device.is_cuda() && !device.has_index()) device = torch::Device(torch::kCUDA, job.local_rank);
  auto comm = distributed::join_job(job, device);
  remember_job(comm);
  return comm;
}

void check_batch_divides(const TrainFlags& flags) {
  const int64_t world = job_options(flags).world_size;
  try {
    distributed::share_of_batch(flags.common.run.batch_size(), world);
  } catch (const std::invalid_argument& e) {
    throw flag_error(e);
  }
}

}  // namespace l2w::cli
