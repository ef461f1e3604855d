#include "flags.h"

#include <algorithm>
#include <cstdlib>
#include <sstream>

#include "l2w/runtime/mixed_precision.h"

namespace l2w::cli {
namespace {

std::vector<int64_t> parse_factors(const std::string& flag, const std::string& text) {
  std::vector<int64_t> out;
  std::stringstream in(text);
  std::string part;
  while (std::getline(in, part, '-')) {
    try {
      size_t used = 0;
      const int64_t v = std::stoll(part, &used);
      if (used != part.size() || v < 1) throw std::invalid_argument(part);
      out.push_back(v);
    } catch (const std::exception&) {
      throw FlagError(flag + ": '" + text + "' is not a dash-separated list of positive integers (e.g. 1-2-4)");
    }
  }
  if (out.empty()) throw FlagError(flag + ": empty list");
  return out;
}

bool parse_bool(const std::string& flag, const std::string& text) {
  if (text == "true" || text == "True" || text == "1") return true;
  if (text == "false" || text == "False" || text == "0") return false;
  throw FlagError(flag + ": '" + text + "' is not true or false");
}

CLI::Validator number_check(const std::string& name, bool (*accept)(double), const std::string& wanted) {
  return CLI::Validator(
      [accept, wanted](std::string& text) {
        char* end = nullptr;
        const double v = std::strtod(text.c_str(), &end);
        if (end == text.c_str() || *end != '\0') return "'" + text + "' is not a number";
        return accept(v) ? std::string() : "'" + text + "' must be " + wanted;
      },
      name);
}

}  // namespace

const CLI::Validator kPositive = number_check("POSITIVE", [](double v) { return v > 0; }, "positive");
const CLI::Validator kNonNegative = number_check("NON-NEGATIVE", [](double v) { return v >= 0; }, "zero or more");

void add_runtime_flags(CLI::App& app, Flags& f) {
  app.add_option("--seed", f.seed, "seed of initialisation, data order and augmentation");
  app.add_option("--threads", f.threads, "LibTorch threads (0: all cores)")->check(kNonNegative);
  app.add_option("--device", f.device, "cpu | cuda[:i]");
  app.add_option("--gpu", f.device, "accepted for the reference's scripts; same as --device")->group("");
}

void add_run_flags(CLI::App& app, Flags& f) {
  app.add_option("--train_url,--save", f.train_url, "run folder: scores, checkpoints, results");
  app.add_option("--batch-size,-b", f.batch_size, "images per batch (training: over all processes)")->check(kPositive);
  app.add_option("--print-freq,-p", f.print_freq, "progress line every N iterations")->check(kNonNegative);
}

void add_precision_flag(CLI::App& app, Flags& f) {
  app.add_option("--amp", f.amp, "mixed precision of the real step and evaluation: off | bf16 | fp16 (loss-scaled)")
      ->check(CLI::IsMember({"off", "bf16", "fp16"}));
}

void add_checkpoint_flags(CLI::App& app, Flags& f) {
  app.add_option("--evaluate_from", f.evaluate_from, "checkpoint to evaluate");
  app.add_option("--evalmode", f.evalmode, "anytime | dynamic | both")->check(CLI::IsMember({"anytime", "dynamic", "both"}));
}

void add_distributed_flags(CLI::App& app, Flags& f) {
  app.add_option("--dist_url", f.dist_url, "data-parallel job: rank 0's tcp://HOST:PORT (default: MASTER_ADDR/PORT)")
      ->group("Distributed");
  app.add_option("--world_size,--world-size", f.world_size, "processes in the job (default: WORLD_SIZE, else 1)")
      ->check(kPositive)
      ->group("Distributed");
  app.add_option("--rank", f.rank, "this process's rank (default: RANK, else 0)")->check(kNonNegative)->group("Distributed");
  app.add_option("--dist_backend,--dist-backend", f.dist_backend, "gloo | nccl (default: nccl on CUDA, else gloo)")
      ->check(CLI::IsMember({"gloo", "nccl"}))
      ->group("Distributed");
  app.add_option("--dist_timeout", f.dist_timeout, "seconds to wait for peers and collectives before failing")
      ->check(kPositive)
      ->group("Distributed");
}

void add_data_flags(CLI::App& app, Flags& f) {
  app.add_option("--data", f.data, "cifar10 | cifar100 | ImageNet | fashion-mnist | mnist")
      ->check(CLI::IsMember({"cifar10", "cifar100", "ImageNet", "fashion-mnist", "mnist"}));
  app.add_option("--data_url,--data-root", f.data_url, "data folder (fashion-mnist: Debian's package folder)");
  app.add_option("--workers,-j", f.workers, "data loader threads (image folders: decode threads)")
      ->check(kPositive);
  app.add_flag("--skip-bad-images", f.skip_bad_images, "skip and count image files that cannot be decoded");
  app.add_option("--train-limit", f.train_limit, "use only the first N training samples")->check(kNonNegative);
  app.add_option("--test-limit", f.test_limit, "use only the first N test samples")->check(kNonNegative);

  app.add_flag("--use_valid,--use-valid", f.use_valid, "hold out --num_sample_valid training samples for thresholds");
  app.add_option("--num_sample_valid", f.num_sample_valid)->check(kPositive);
}

void add_architecture_flags(CLI::App& app, Flags& f) {
  app.add_option("--arch,-a", f.arch, "msdnet | RANet")
      ->transform(CLI::IsMember({"msdnet", "RANet"}, CLI::ignore_case));
  app.add_option("--nBlocks", f.n_blocks, "exits")->check(kPositive);
  app.add_option("--nChannels", f.n_channels)->check(kPositive);
  app.add_option("--base", f.base, "layers in block 1")->check(kPositive);
  app.add_option("--stepmode", f.stepmode, "even | lin_grow (MSDNet) | lg (RANet)")
      ->check(CLI::IsMember({"even", "lin_grow", "lg"}));
  app.add_option("--step", f.step)->check(kNonNegative);
  app.add_option("--growthRate", f.growth_rate)->check(kPositive);
  app.add_option("--grFactor", f.gr_factor, "per-scale growth factors, e.g. 1-2-4");
  app.add_option("--bnFactor", f.bn_factor, "per-scale bottleneck factors, e.g. 1-2-4");
  app.add_option("--prune", f.prune, "max | min")->check(CLI::IsMember({"max", "min"}));
  app.add_option("--bottleneck", f.bottleneck, "true | false");
  app.add_option("--reduction", f.reduction, "transition compression")->check(CLI::Range(0.0, 1.0));
  app.add_option("--block-step,--block_step", f.block_step, "RANet: more blocks per higher-resolution flow")
      ->check(kNonNegative);
  app.add_option("--scale-list,--scale_list", f.scale_list, "RANet: resolution level per flow, e.g. 1-2-3");
  app.add_option("--compress-factor,--compress_factor", f.compress_factor, "RANet: fused share from below")
      ->check(CLI::Range(0.0, 1.0));
  app.add_flag("--bnAfter,!--no-bnAfter", f.bn_after, "RANet: accepted as in the reference, no effect (BatchNorm always follows each conv)");
}

void add_optimizer_flags(CLI::App& app, Flags& f) {
  app.add_option("--epochs", f.epochs)->check(kPositive);
  app.add_option("--lr,--learning-rate", f.lr)->check(kPositive);
  app.add_option("--lr-type", f.lr_type, "cosine | multistep")->check(CLI::IsMember({"cosine", "multistep"}));
  app.add_option("--decay-rate", f.decay_rate, "multistep decay factor")->check(CLI::Range(0.0, 1.0));
  app.add_option("--momentum", f.momentum)->check(CLI::Range(0.0, 1.0));
  app.add_option("--weight-decay,--wd", f.weight_decay)->check(kNonNegative);
  app.add_flag("--nesterov", f.nesterov);
  app.add_option("--label-smoothing,--labelsmooth", f.label_smoothing)->check(CLI::Range(0.0, 1.0));
  app.add_option("--resume", f.resume, "checkpoint to resume from (default: the run folder's latest)");
  app.add_option("--save-every,--save_every", f.save_every,
                 "also checkpoint every N iterations inside an epoch (SIGTERM, SIGINT or SIGUSR1 always write one)")
      ->check(kNonNegative);
  app.add_option("--finetune_from", f.finetune_from, "initial weights from this checkpoint (l2w's or Python's)");
  app.add_option("--cuda-graphs,--cuda_graphs", f.cuda_graphs,
                 "with --device cuda: capture the training iteration as CUDA graphs and replay them (on | off)")
      ->check(CLI::IsMember({"on", "off"}));
}

void add_meta_flags(CLI::App& app, Flags& f) {
  app.add_option("--method", f.method, "l2w | plain")->check(CLI::IsMember({"l2w", "plain"}));
  app.add_option("--meta_net_hidden_size", f.meta_net_hidden_size)->check(kPositive);
  app.add_option("--meta_net_num_layers", f.meta_net_num_layers)->check(kPositive);
  app.add_option("--meta_interval", f.meta_interval)->check(kPositive);
  app.add_option("--meta_lr", f.meta_lr)->check(kNonNegative);
  app.add_option("--meta_weight_decay", f.meta_weight_decay)->check(kNonNegative);
  app.add_option("--epsilon", f.epsilon)->check(kNonNegative);
  app.add_option("--target_p_index", f.target_p_index, "1..39")->check(CLI::Range(1, 39));
  app.add_option("--meta_net_input_type", f.meta_net_input_type, "loss | conf | both")
      ->check(CLI::IsMember({"loss", "conf", "both"}));
  app.add_option("--constraint_dimension", f.constraint_dimension, "row | col | mat")
      ->check(CLI::IsMember({"row", "col", "mat"}));
  app.add_option("--meta_grad", f.meta_grad,
                 "exact (second-order backward) | fd (first order: a finite-difference directional derivative)")
      ->check(CLI::IsMember({"exact", "fd"}));
  app.add_option("--fd_epsilon", f.fd_epsilon, "fd: relative step, delta = e*(1+|theta|)/|h| (0: by precision)")
      ->check(kNonNegative);
}

void apply_reference_defaults(const CLI::App& app, Flags& f) {
  // Only flags this subcommand has (bench data has no architecture).
  auto unless_given = [&](const char* flag, auto& value, auto fallback) {
    if (app.get_option_no_throw(flag) != nullptr && app.count(flag) == 0) value = fallback;
  };
  if (f.data == "ImageNet") unless_given("--num_sample_valid", f.num_sample_valid, int64_t{50000});
  if (models::parse_arch(f.arch) != models::Arch::kRANet) return;
  unless_given("--nBlocks", f.n_blocks, int64_t{2});
  unless_given("--nChannels", f.n_channels, int64_t{16});
  unless_given("--growthRate", f.growth_rate, int64_t{6});
  unless_given("--grFactor", f.gr_factor, std::string("4-2-1"));
  unless_given("--bnFactor", f.bn_factor, std::string("4-2-1"));
  unless_given("--step", f.step, int64_t{4});
  unless_given("--stepmode", f.stepmode, std::string("even"));
}

models::NetworkOptions network_options(const Flags& f, const dataset::DataGeometry& g) {
  models::NetworkOptions o;
  o.arch(models::parse_arch(f.arch));
  if (o.arch() == models::Arch::kRANet) {
    if (f.stepmode == "lin_grow") throw FlagError("--stepmode: RANet takes even or lg");
    o.ranet().n_blocks(f.n_blocks)
        .block_step(f.block_step)
        .n_channels(f.n_channels)
        .growth_rate(f.growth_rate)
        .gr_factor(parse_factors("--grFactor", f.gr_factor))
        .bn_factor(parse_factors("--bnFactor", f.bn_factor))
        .scale_list(parse_factors("--scale-list", f.scale_list))
        .compress_factor(f.compress_factor)
        .step(f.step)
        .step_grows(f.stepmode == "lg")
        .reduction(f.reduction)
        .num_classes(g.num_classes)
        .in_channels(g.channels)
        .imagenet(g.imagenet);
    const auto n = o.ranet().scale_list().size();
    if (o.ranet().gr_factor().size() != n || o.ranet().bn_factor().size() != n)
      throw FlagError("--grFactor, --bnFactor and --scale-list must list the same number of flows");
    return o;
  }
  if (f.stepmode == "lg") throw FlagError("--stepmode: MSDNet takes even or lin_grow");
  o.msdnet().n_blocks(f.n_blocks)
      .n_channels(f.n_channels)
      .base(f.base)
      .step_mode(f.stepmode == "even" ? models::StepMode::kEven : models::StepMode::kLinGrow)
      .step(f.step)
      .growth_rate(f.growth_rate)
      .gr_factor(parse_factors("--grFactor", f.gr_factor))
      .bn_factor(parse_factors("--bnFactor", f.bn_factor))
      .prune(f.prune == "max" ? models::Prune::kMax : models::Prune::kMin)
      .bottleneck(parse_bool("--bottleneck", f.bottleneck))
      .reduction(f.reduction)
      .num_classes(g.num_classes)
      .in_channels(g.channels)
      .imagenet(g.imagenet);
  if (o.msdnet().gr_factor().size() != o.msdnet().bn_factor().size())
    throw FlagError("--grFactor and --bnFactor must list the same number of scales");
  return o;
}

dataset::DataGeometry data_geometry(const Flags& f, const dataset::DataSplits& data) {
  auto g = dataset::geometry(f.data);
  g.num_classes = data.train->num_classes;
  return g;
}

dataset::DataOptions data_options(const Flags& f) {
  dataset::DataOptions o;
  o.name = f.data;
  o.root = f.data_url;
  o.train_limit = f.train_limit;
  o.test_limit = f.test_limit;
  return o;
}

train::TrainerOptions trainer_options(const Flags& f, const torch::Device& device) {
  if (f.nesterov && f.momentum == 0) throw FlagError("--nesterov needs a non-zero --momentum");
  train::LrSchedule schedule;
  schedule.type = f.lr_type == "cosine" ? train::LrType::kCosine : train::LrType::kMultistep;
  schedule.base_lr = f.lr;
  schedule.decay_rate = f.decay_rate;
  schedule.milestones = train::default_milestones(f.data, f.epochs);
  return train::TrainerOptions()
      .run_dir(f.train_url)
      .epochs(f.epochs)
      .batch_size(f.batch_size)
      .schedule(schedule)
      .sgd(train::SgdOptions().lr(f.lr).momentum(f.momentum).weight_decay(f.weight_decay).nesterov(f.nesterov))
      .seed(f.seed)
      .print_freq(f.print_freq)
      .workers(f.workers)
      .skip_bad_images(f.skip_bad_images)
      .resume(f.resume)
      .save_every(f.save_every)
      .finetune_from(f.finetune_from)
      .use_valid(f.use_valid)
      .num_sample_valid(f.num_sample_valid)
      .device(device)
      .cuda_graphs(f.cuda_graphs == "on")
      .amp(runtime::parse_amp(f.amp));
}

meta::MetaOptions meta_options(const Flags& f, int64_t num_exits) {
  const auto input = f.meta_net_input_type == "loss"   ? meta::WpnInput::kLoss
                     : f.meta_net_input_type == "conf" ? meta::WpnInput::kConfidence
                                                       : meta::WpnInput::kBoth;
  const auto constraint = f.constraint_dimension == "row"   ? meta::Constraint::kRow
                          : f.constraint_dimension == "col" ? meta::Constraint::kCol
                                                            : meta::Constraint::kMat;
  return meta::MetaOptions(num_exits)
      .wpn(meta::WpnOptions(num_exits)
               .hidden_size(f.meta_net_hidden_size)
               .num_layers(f.meta_net_num_layers)
               .epsilon(f.epsilon)
               .input(input)
               .constraint(constraint))
      .meta_interval(f.meta_interval)
      .meta_lr(f.meta_lr)
      .meta_weight_decay(f.meta_weight_decay)
      .target_p_index(f.target_p_index)
      .label_smoothing(f.label_smoothing)
      .amp(runtime::parse_amp(f.amp))
      .meta_grad(f.meta_grad == "fd" ? meta::MetaGrad::kFiniteDifference : meta::MetaGrad::kExact)
      .fd_epsilon(f.fd_epsilon);
}

infer::DeploymentOptions deployment_options(const Flags& f) {
  const auto layout = f.memory_format == "channels_last" ? infer::Layout::kChannelsLast
                      : f.memory_format == "contiguous"  ? infer::Layout::kContiguous
                                                         : infer::Layout::kAuto;
  return infer::DeploymentOptions().layout(layout).training_form(f.training_form).choose_latency_threads(f.threads <= 0);
}

distributed::JobOptions job_options(const Flags& f) {
  try {
    auto job = distributed::job_from_environment({});
    if (!f.dist_url.empty()) distributed::apply_dist_url(f.dist_url, job);
    if (f.world_size > 0) job.world_size = f.world_size;
    if (f.rank >= 0) job.rank = f.rank;
    job.backend = f.dist_backend;
    job.timeout = std::chrono::milliseconds(static_cast<int64_t>(f.dist_timeout * 1000));
    distributed::check_job(job);
    return job;
  } catch (const std::invalid_argument& e) {
    throw FlagError(e.what());
  }
}

train::StepFactory step_factory(const Flags& f) {
  if (f.method == "plain") {
    return [smoothing = f.label_smoothing, amp = runtime::parse_amp(f.amp)](
               models::MultiExitNetworkImpl& net, train::Sgd& sgd, distributed::DataParallel* parallel) {
      return std::unique_ptr<train::TrainStep>(new train::PlainStep(net, sgd, smoothing, parallel, amp));
    };
  }
  return [f](models::MultiExitNetworkImpl& net, train::Sgd& sgd, distributed::DataParallel* parallel) {
    return std::unique_ptr<train::TrainStep>(
        new meta::L2WStep(net, sgd, meta_options(f, net.num_exits()), parallel));
  };
}

}  // namespace l2w::cli
