// Every flag of the reference (with its spelling) and l2w's own, and their translation into the
// library's option structs.
#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "l2w/dataset/data_sets.h"
#include "l2w/distributed/job_options.h"
#include "l2w/infer/deployment.h"
#include "l2w/meta/l2w_step.h"
#include "l2w/models/network_options.h"
#include "l2w/train/trainer.h"

namespace l2w::cli {

struct Flags {
  // Experiment.
  std::string train_url = "runs/default";
  std::string resume;
  int64_t save_every = 0;
  std::string finetune_from;
  std::string evalmode = "anytime";
  std::string evaluate_from;
  int64_t print_freq = 10;
  uint64_t seed = 0;
  std::string method = "l2w";
  int64_t threads = 0;  // 0: all cores
  std::string device = "cpu";
  std::string amp = "off";  // mixed precision: off | bf16 | fp16
  std::string cuda_graphs = "on";  // on a GPU, capture and replay the training step: on | off
  // Data.
  std::string data = "fashion-mnist";
  std::string data_url;
  int64_t workers = 1;
  int64_t train_limit = 0;
  int64_t test_limit = 0;
  bool use_valid = false;
  bool skip_bad_images = false;
  int64_t num_sample_valid = 5000;
  // Architecture (defaults: the seed's CIFAR MSDNet).
  std::string arch = "msdnet";
  int64_t n_blocks = 5;
  int64_t n_channels = 16;
  int64_t base = 1;
  std::string stepmode = "lin_grow";
  int64_t step = 1;
  int64_t growth_rate = 6;
  std::string gr_factor = "1-2-4";
  std::string bn_factor = "1-2-4";
  std::string prune = "max";
  std::string bottleneck = "true";
  double reduction = 0.5;
  // RANet.
  int64_t block_step = 2;
  std::string scale_list = "1-2-3";
  double compress_factor = 0.25;
  bool bn_after = true;
  // Optimisation.
  int64_t epochs = 300;
  int64_t batch_size = 64;
  double lr = 0.1;
  std::string lr_type = "cosine";
  double decay_rate = 0.1;
  double momentum = 0.9;
  double weight_decay = 1e-4;
  bool nesterov = false;
  double label_smoothing = 0.0;
  // L2W.
  int64_t meta_net_hidden_size = 500;
  int64_t meta_net_num_layers = 1;
  int64_t meta_interval = 1;
  double meta_lr = 1e-4;
  double meta_weight_decay = 1e-4;
  double epsilon = 0.8;
  int64_t target_p_index = 15;
  std::string meta_net_input_type = "loss";
  std::string constraint_dimension = "col";
  std::string meta_grad = "exact";
  double fd_epsilon = 0;
  // eval.
  bool save_probs = false;
  double budget = 0;  // MUL-ADDs per image; 0: no thresholds file
  std::string thresholds;
  // infer.
  int64_t latency_images = 500;
  std::string memory_format = "auto";  // of the inference form; auto: the faster measured
  bool training_form = false;                   // run the network as trained (BatchNorm unfolded)
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

// The flag groups; each subcommand takes the groups it uses (main.cpp), so that a flag another
// subcommand would ignore is refused as unknown.
void add_runtime_flags(CLI::App& app, Flags& flags);       // --seed, --threads, --device
void add_run_flags(CLI::App& app, Flags& flags);           // --train_url, --batch-size, --print-freq
void add_precision_flag(CLI::App& app, Flags& flags);      // --amp
void add_checkpoint_flags(CLI::App& app, Flags& flags);    // --evaluate_from, --evalmode
void add_distributed_flags(CLI::App& app, Flags& flags);   // --dist_url, --world_size, --rank, ...
void add_data_flags(CLI::App& app, Flags& flags);          // --data, --data_url, --workers, --use_valid, ...
void add_architecture_flags(CLI::App& app, Flags& flags);  // --arch, --nBlocks, --grFactor, ...
void add_optimizer_flags(CLI::App& app, Flags& flags);     // --epochs, --lr, --momentum, --resume, ...
void add_meta_flags(CLI::App& app, Flags& flags);          // --method and L2W's --meta_* flags
// After parsing: flags a user left out take the references' defaults for the chosen backbone (RANet:
// nBlocks 2, nChannels 16, growthRate 6, grFactor and bnFactor 4-2-1, step 4, stepmode even) and data
// (ImageNet: 50000 held-out images for --use_valid).
void apply_reference_defaults(const CLI::App& app, Flags& flags);

models::NetworkOptions network_options(const Flags& flags, const dataset::DataGeometry& geometry);
// The geometry of --data with the class count of the loaded data (an image folder has its own).
dataset::DataGeometry data_geometry(const Flags& flags, const dataset::DataSplits& data);
dataset::DataOptions data_options(const Flags& flags);
train::TrainerOptions trainer_options(const Flags& flags, const torch::Device& device);
meta::MetaOptions meta_options(const Flags& flags, int64_t num_exits);
// How infer and bench infer deploy the network: --memory-format, --training-form, --threads.
infer::DeploymentOptions deployment_options(const Flags& flags);
// The training method the flags choose (plain or L2W) for the trainer.
train::StepFactory step_factory(const Flags& flags);

// This process's place in a data-parallel job: torchrun's environment, overridden by --dist_url,
// --world_size, --rank, --dist_backend and --dist_timeout.
distributed::JobOptions job_options(const Flags& flags);

// A bad flag value; the message names the flag.
struct FlagError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

}  // namespace l2w::cli
