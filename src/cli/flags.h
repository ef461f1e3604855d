// Every flag of the reference (with its spelling) and l2w's own, and their translation into the
// library's option structs.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "l2w/dataset/data_sets.h"
#include "l2w/distributed/job_options.h"
#include "l2w/criterion/knowledge_distillation.h"
#include "l2w/eval/checkpoint_evaluation.h"
#include "l2w/infer/deployment.h"
#include "l2w/meta/training_method.h"
#include "l2w/models/network_options.h"
#include "l2w/runtime/process_setup.h"
#include "l2w/train/trained_network.h"
#ifdef L2W_WITH_SERVER
#include "l2w/serve/serving_stack.h"
#endif
#include "l2w/train/trainer.h"

namespace l2w::cli {

// The training method (--method): the library's.
using meta::Method;
// How bench serve's clients connect (--client).
enum class ClientMode { kKeepAlive, kNewConnection, kBoth };
// --stepmode: MSDNet takes even or lin_grow, RANet even or lg.
enum class StepModeFlag { kEven, kLinGrow, kLg };

struct Flags {
  // The library's options, bound to their flags: a flag left out keeps the default written on the
  // options struct (l2w COMMAND --help shows it).
  train::TrainerOptions run;   // run folder, epochs, batch, optimiser, schedule, loading, checkpoints, --amp
  meta::MethodOptions method;  // --method, L2W's flags, --label-smoothing, IMTA's distillation
  dataset::DataOptions data;   // --data, --data_url, --train-limit, --test-limit
  infer::DeploymentOptions deployment;  // --memory-format, --training-form
  models::Arch arch = models::Arch::kMSDNet;
  models::MSDNetOptions msdnet;  // MSDNet's own flags: --base, --prune, --bottleneck
  models::RANetOptions ranet;    // RANet's own: --block-step, --scale-list, --compress-factor
  // Flags both backbones take; left out, the chosen backbone's default.
  std::optional<int64_t> n_blocks, n_channels, step, growth_rate;
  std::optional<std::vector<int64_t>> gr_factor, bn_factor;
  std::optional<StepModeFlag> stepmode;
  std::optional<double> reduction;
  bool bn_after = true;  // accepted as the reference's RANet flag; BatchNorm always follows each conv
  bool gradient_equilibrium = false;  // IMTA's: scales the gradients each block receives from the exits
  bool imta_stage2 = false;           // IMTA's second-stage heads (ISC) on the backbone
  std::string imta_from;              // train --imta-stage2: the first stage's checkpoint
  bool imta_freeze_backbone_bn = false;  // train --imta-stage2: the backbone stays in eval mode

  // The command line's own.
  criterion::ExitCriterion exit_criterion = criterion::ExitCriterion::kMaxProb;
  std::string evaluate_from;
  runtime::RuntimeOptions runtime;  // --threads, --device
  // eval.
  eval::EvaluationOptions evaluation;
  // infer: the thresholds file it reads.
  std::string thresholds;
  // infer.
  int64_t latency_images = 500;
#ifdef L2W_WITH_SERVER
  // serve and bench serve: the serving stack's options (the network, data and device come from the
  // other flags).
  serve::ServingOptions serving;
#endif
  std::string serve_loads = "0.25,1.5";  // bench serve: offered loads, shares of the full network's capacity
  double serve_seconds = 5;              // bench serve: each load's duration
  ClientMode client_mode = ClientMode::kBoth;  // bench serve: how its clients connect
  int64_t clients = 128;                       // bench serve: client threads
  // plot.
  std::vector<std::string> plot_runs;
  std::string plot_output;
  std::string plot_title = "Budgeted batch classification";
  // compare.
  std::vector<std::string> compare_methods;  // each RUN[,RUN...]: one method's runs
  std::string compare_budgets = "0.25,0.5,0.75,1";
  std::string compare_labels;
  std::string compare_markdown;
  bool compare_exits = false;
  // flops.
  bool json = false;
  // bench.
  int64_t bench_iterations = 20;
  int64_t bench_profile = 0;  // bench train: steps profiled per operator after the timed ones; 0: none
  int64_t bench_rounds = 1;   // bench infer: timings of each budget's throughput
  // Data-parallel jobs (torchrun's environment, or these, which win).
  std::string dist_url;
  int64_t world_size = 0;  // 0: from WORLD_SIZE, else 1
  int64_t rank = -1;       // -1: from RANK, else 0
  std::string dist_backend;
  double dist_timeout = 600;  // seconds
  // launch.
  int64_t nproc = 1;
  int64_t nnodes = 1;
  int64_t node_rank = 0;
  std::string master_addr = "127.0.0.1";
  int64_t master_port = 0;
  std::vector<std::string> launch_command;
};

// Value checks whose message says what is wanted ("must be positive"), not a range to 1.8e308.
extern const CLI::Validator kPositive;
extern const CLI::Validator kNonNegative;
extern const CLI::Validator kOpenUnit;  // in (0, 1)

// The flag groups; each subcommand takes the groups it uses (main.cpp), so that a flag another
// subcommand would ignore is refused as unknown.
void add_runtime_flags(CLI::App& app, Flags& flags);       // --seed, --threads, --device
void add_run_flags(CLI::App& app, Flags& flags);           // --train_url, --batch-size, --print-freq
void add_precision_flag(CLI::App& app, Flags& flags);      // --amp
void add_checkpoint_flags(CLI::App& app, Flags& flags);    // --evaluate_from
void add_eval_flags(CLI::App& app, Flags& flags);          // --evalmode, --budget, --calibrate, ...
void add_distributed_flags(CLI::App& app, Flags& flags);   // --dist_url, --world_size, --rank, ...
void add_data_flags(CLI::App& app, Flags& flags);          // --data, --data_url, --workers, --use_valid, ...
void add_architecture_flags(CLI::App& app, Flags& flags);  // --arch, --nBlocks, --grFactor, ...
void add_optimizer_flags(CLI::App& app, Flags& flags);     // --epochs, --lr, --momentum, --resume, ...
void add_meta_flags(CLI::App& app, Flags& flags);          // --method and L2W's --meta_* flags
void add_deployment_flags(CLI::App& app, Flags& flags);    // infer's --memory-format, --training-form
void add_latency_flag(CLI::App& app, Flags& flags);        // --latency-images
void add_exit_criterion_flag(CLI::App& app, Flags& flags); // --exit-criterion: what thresholds are compared with
#ifdef L2W_WITH_SERVER
void add_serving_flags(CLI::App& app, Flags& flags);       // serve's --slo-ms, --budgets, --max-batch, ...
void add_listening_flags(CLI::App& app, Flags& flags);     // serve's --bind, --port, --access-log
void add_load_flags(CLI::App& app, Flags& flags);          // bench serve's --loads, --seconds, --client, --clients
#endif
// After parsing: the reference's default for ImageNet, 50000 held-out images for --use_valid, unless
// --num_sample_valid was given.
void apply_data_defaults(const CLI::App& app, Flags& flags);

models::NetworkOptions network_options(const Flags& flags, const dataset::DataGeometry& geometry);
// The geometry of --data with the class count of the loaded data (an image folder has its own).
dataset::DataGeometry data_geometry(const Flags& flags, const dataset::DataSplits& data);
dataset::DataOptions data_options(const Flags& flags);
train::TrainerOptions trainer_options(const Flags& flags, const torch::Device& device);
// How infer and bench infer deploy the network: --memory-format, --training-form, and --threads (a
// count given is used for latency too).
infer::DeploymentOptions deployment_options(const Flags& flags);
// The training method the flags choose (plain, L2W, or IMTA's second stage's distillation).
meta::MethodOptions method_options(const Flags& flags);
// How the network is built for training: its architecture, --seed, --gradient-equilibrium, IMTA's stages.
train::NetworkBuildOptions build_options(const Flags& flags, const models::NetworkOptions& arch);

// This process's place in a data-parallel job: torchrun's environment, overridden by --dist_url,
// --world_size, --rank, --dist_backend and --dist_timeout.
distributed::JobOptions job_options(const Flags& flags);

// A bad flag value; the message names the flag.
struct FlagError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

// A library error naming an option (options::OptionError) with the option's flag; any other as it is.
FlagError flag_error(const std::exception& e);

// The flag of the option `name` (as the option lists and errors name it), or the name itself when no
// flag was added for it; register_flag records a flag added by hand.
std::string flag_of(const std::string& name);
void register_flag(const std::string& name, const std::string& flag);

}  // namespace l2w::cli
