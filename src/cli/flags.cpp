#include "flags.h"

#include <cctype>
#include <cstdlib>
#include <sstream>
#include <utility>

#include "l2w/io/run_folder.h"
#include "l2w/runtime/mixed_precision.h"

namespace l2w::cli {
namespace {

// The words a choice flag takes, each with its value. Built from the library's own names where it has
// them, so that each spelling is written once.
template <class T>
using Choices = std::vector<std::pair<std::string, T>>;

template <class T, class Name>
Choices<T> named(std::initializer_list<T> values, Name name) {
  Choices<T> choices;
  for (const T& v : values) choices.emplace_back(name(v), v);
  return choices;
}

template <class T>
std::string listed(const Choices<T>& choices) {
  std::string text;
  for (const auto& [word, value] : choices) text += (text.empty() ? "" : "|") + word;
  return text;
}

template <class T>
std::string word_for(const Choices<T>& choices, const T& value) {
  for (const auto& [word, v] : choices)
    if (v == value) return word;
  return "";
}

std::string lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

// A flag whose value is one of `choices`, parsed straight into `target` (a T or an optional<T>).
template <class T, class Target>
CLI::Option* add_choice(CLI::App& app, const std::string& names, Target& target, const Choices<T>& choices,
                        const std::string& help, bool ignore_case = false) {
  auto* option = app.add_option_function<std::string>(
      names,
      [&target, choices, ignore_case, names](const std::string& text) {
        for (const auto& [word, value] : choices) {
          if (text == word || (ignore_case && lower(text) == lower(word))) {
            target = value;
            return;
          }
        }
        throw CLI::ValidationError(names.substr(0, names.find(',')), "'" + text + "' is not one of " + listed(choices));
      },
      help);
  option->type_name(listed(choices));
  return option;
}

const Choices<Method> kMethods = named({Method::kL2W, Method::kPlain}, meta::method_name);
const Choices<ClientMode> kClientModes{
    {"keep-alive", ClientMode::kKeepAlive}, {"new-connection", ClientMode::kNewConnection}, {"both", ClientMode::kBoth}};
const Choices<EvalMode> kEvalModes{{"anytime", EvalMode::kAnytime}, {"dynamic", EvalMode::kDynamic}, {"both", EvalMode::kBoth}};
const Choices<StepModeFlag> kStepModes{
    {"even", StepModeFlag::kEven}, {"lin_grow", StepModeFlag::kLinGrow}, {"lg", StepModeFlag::kLg}};
const Choices<runtime::Amp> kAmps = named({runtime::Amp::kOff, runtime::Amp::kBf16, runtime::Amp::kFp16}, runtime::amp_name);
const Choices<models::Arch> kArchs = named({models::Arch::kMSDNet, models::Arch::kRANet}, models::arch_name);
const Choices<models::Prune> kPrunes = named({models::Prune::kMax, models::Prune::kMin}, models::prune_name);
const Choices<train::LrType> kLrTypes = named({train::LrType::kCosine, train::LrType::kMultistep}, train::lr_type_name);
const Choices<meta::WpnInput> kWpnInputs =
    named({meta::WpnInput::kLoss, meta::WpnInput::kConfidence, meta::WpnInput::kBoth}, meta::wpn_input_name);
const Choices<meta::Constraint> kConstraints =
    named({meta::Constraint::kRow, meta::Constraint::kCol, meta::Constraint::kMat}, meta::constraint_name);
const Choices<meta::MetaGrad> kMetaGrads =
    named({meta::MetaGrad::kExact, meta::MetaGrad::kFiniteDifference}, meta::meta_grad_name);
const Choices<infer::Layout> kLayouts =
    named({infer::Layout::kAuto, infer::Layout::kChannelsLast, infer::Layout::kContiguous}, infer::layout_name);
const Choices<infer::Batching> kBatchings =
    named({infer::Batching::kStageWise, infer::Batching::kPerBatch}, infer::batching_name);
const Choices<criterion::ExitCriterion> kExitCriteria = [] {
  Choices<criterion::ExitCriterion> choices;
  for (const auto c : criterion::all_exit_criteria()) choices.emplace_back(criterion::exit_criterion_name(c), c);
  return choices;
}();
const Choices<bool> kOnOff{{"on", true}, {"off", false}};
const Choices<bool> kTrueFalse{{"true", true}, {"false", false}, {"True", true}, {"False", false}, {"1", true}, {"0", false}};

// A dash-separated list of positive integers (1-2-4) into `target`.
template <class Target>
CLI::Option* add_factors(CLI::App& app, const std::string& names, Target& target, const std::string& help) {
  const std::string flag = names.substr(0, names.find(','));
  return app
      .add_option_function<std::string>(
          names,
          [&target, flag](const std::string& text) {
            std::vector<int64_t> out;
            std::stringstream in(text);
            std::string part;
            while (std::getline(in, part, '-')) {
              size_t used = 0;
              int64_t v = 0;
              try {
                v = std::stoll(part, &used);
              } catch (const std::exception&) {
                used = 0;
              }
              if (used == 0 || used != part.size() || v < 1)
                throw CLI::ValidationError(flag, "'" + text + "' is not a dash-separated list of positive integers (e.g. 1-2-4)");
              out.push_back(v);
            }
            if (out.empty()) throw CLI::ValidationError(flag, "empty list");
            target = out;
          },
          help)
      ->type_name("N-N-...");
}

// "5 (MSDNet), 2 (RANet)": the shared flags' defaults, read off the options structs.
std::string both_defaults(const std::string& msdnet, const std::string& ranet) {
  return " (default: " + msdnet + " MSDNet, " + ranet + " RANet)";
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
const CLI::Validator kOpenUnit = number_check("(0, 1)", [](double v) { return v > 0 && v < 1; }, "between 0 and 1, both excluded");


void add_runtime_flags(CLI::App& app, Flags& f) {
  app.add_option("--seed", f.run.seed(), "seed of initialisation, data order and augmentation")->capture_default_str();
  app.add_option("--threads", f.threads,
                 "LibTorch threads (0: OMP_NUM_THREADS if set, else all cores, shared among l2w launch's ranks)")
      ->check(kNonNegative);
  app.add_option("--device", f.device, "cpu | cuda[:i]");
  app.add_option("--gpu", f.device, "accepted for the reference's scripts; same as --device")->group("");
}

void add_run_flags(CLI::App& app, Flags& f) {
  app.add_option("--train_url,--save", f.run.run_dir(), "run folder: scores, checkpoints, results")->capture_default_str();
  app.add_option("--batch-size,-b", f.run.batch_size(), "images per batch (training: over all processes)")
      ->check(kPositive)
      ->capture_default_str();
  app.add_option("--print-freq,-p", f.run.print_freq(), "progress line every N iterations")
      ->check(kNonNegative)
      ->capture_default_str();
}

void add_precision_flag(CLI::App& app, Flags& f) {
  add_choice(app, "--amp", f.run.amp(), kAmps, "mixed precision of the real step and evaluation (fp16: loss-scaled)")
      ->default_str(word_for(kAmps, f.run.amp()));
}

void add_checkpoint_flags(CLI::App& app, Flags& f) {
  app.add_option("--evaluate_from", f.evaluate_from, "checkpoint to evaluate");
  add_choice(app, "--evalmode", f.evalmode, kEvalModes, "what to evaluate")->default_str(word_for(kEvalModes, f.evalmode));
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
  app.add_option("--data", f.data.name, "cifar10 | cifar100 | ImageNet | fashion-mnist | mnist")
      ->check(CLI::IsMember({"cifar10", "cifar100", "ImageNet", "fashion-mnist", "mnist"}))
      ->capture_default_str();
  app.add_option("--data_url,--data-root", f.data.root, "data folder (fashion-mnist: Debian's package folder)");
  app.add_option("--workers,-j", f.run.workers(), "data loader threads (image folders: decode threads)")
      ->check(kPositive)
      ->capture_default_str();
  app.add_flag("--skip-bad-images", f.run.skip_bad_images(), "skip and count image files that cannot be decoded");
  app.add_option("--train-limit", f.data.train_limit, "use only the first N training samples")->check(kNonNegative);
  app.add_option("--test-limit", f.data.test_limit, "use only the first N test samples")->check(kNonNegative);

  app.add_flag("--use_valid,--use-valid", f.run.use_valid(), "hold out --num_sample_valid training samples for thresholds");
  app.add_option("--num_sample_valid", f.run.num_sample_valid(), "held-out samples (ImageNet: 50000)")
      ->check(kPositive)
      ->capture_default_str();
}

void add_architecture_flags(CLI::App& app, Flags& f) {
  const models::MSDNetOptions m;
  const models::RANetOptions r;
  add_choice(app, "--arch,-a", f.arch, kArchs, "backbone", /*ignore_case=*/true)->default_str(word_for(kArchs, f.arch));
  app.add_option("--nBlocks", f.n_blocks, "exits" + both_defaults(models::field_text(m.n_blocks()), models::field_text(r.n_blocks())))
      ->check(kPositive);
  app.add_option("--nChannels", f.n_channels, "channels of the stem" + both_defaults(models::field_text(m.n_channels()), models::field_text(r.n_channels())))
      ->check(kPositive);
  app.add_option("--base", f.msdnet.base(), "MSDNet: layers in block 1")->check(kPositive)->capture_default_str();
  add_choice(app, "--stepmode", f.stepmode, kStepModes,
             "MSDNet: even | lin_grow, RANet: even | lg" +
                 both_defaults(models::step_mode_name(m.step_mode()), models::ranet_step_text(r.step_grows())));
  app.add_option("--step", f.step, "layers added per block (RANet: layers per block)" + both_defaults(models::field_text(m.step()), models::field_text(r.step())))
      ->check(kNonNegative);
  app.add_option("--growthRate", f.growth_rate,
                 "channels each layer adds" + both_defaults(models::field_text(m.growth_rate()), models::field_text(r.growth_rate())))
      ->check(kPositive);
  add_factors(app, "--grFactor", f.gr_factor,
              "growth factor per scale" + both_defaults(models::field_text(m.gr_factor()), models::field_text(r.gr_factor())));
  add_factors(app, "--bnFactor", f.bn_factor,
              "bottleneck factor per scale" + both_defaults(models::field_text(m.bn_factor()), models::field_text(r.bn_factor())));
  add_choice(app, "--prune", f.msdnet.prune(), kPrunes, "MSDNet")->default_str(word_for(kPrunes, f.msdnet.prune()));
  add_choice(app, "--bottleneck", f.msdnet.bottleneck(), kTrueFalse, "MSDNet")
      ->type_name("true|false")
      ->default_str(models::field_text(f.msdnet.bottleneck()));
  app.add_option("--reduction", f.reduction,
                 "transition compression" + both_defaults(models::field_text(m.reduction()), models::field_text(r.reduction())))
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--block-step,--block_step", f.ranet.block_step(), "RANet: more blocks per higher-resolution flow")
      ->check(kNonNegative)
      ->capture_default_str();
  add_factors(app, "--scale-list,--scale_list", f.ranet.scale_list(), "RANet: resolution level per flow")
      ->default_str(models::field_text(r.scale_list()));
  app.add_option("--compress-factor,--compress_factor", f.ranet.compress_factor(), "RANet: fused share from below")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  app.add_flag("--bnAfter,!--no-bnAfter", f.bn_after, "RANet: accepted as in the reference, no effect (BatchNorm always follows each conv)");
  app.add_flag("--imta-stage2", f.imta_stage2,
               "IMTA's second stage: new heads with inline subnetwork collaboration on the frozen backbone");
}

void add_optimizer_flags(CLI::App& app, Flags& f) {
  auto& o = f.run;
  app.add_option("--epochs", o.epochs())->check(kPositive)->capture_default_str();
  app.add_option("--lr,--learning-rate", o.sgd().lr())->check(kPositive)->capture_default_str();
  add_choice(app, "--lr-type", o.schedule().type, kLrTypes, "schedule")->default_str(word_for(kLrTypes, o.schedule().type));
  app.add_option("--decay-rate", o.schedule().decay_rate, "multistep decay factor")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  app.add_option("--momentum", o.sgd().momentum())->check(CLI::Range(0.0, 1.0))->capture_default_str();
  app.add_option("--weight-decay,--wd", o.sgd().weight_decay())->check(kNonNegative)->capture_default_str();
  app.add_flag("--nesterov", o.sgd().nesterov());
  app.add_option("--label-smoothing,--labelsmooth", f.meta.label_smoothing())
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  app.add_option("--resume", o.resume(), "checkpoint to resume from (default: the run folder's latest)");
  app.add_option("--save-every,--save_every", o.save_every(),
                 "also checkpoint every N iterations inside an epoch (SIGTERM, SIGINT or SIGUSR1 always write one)")
      ->check(kNonNegative);
  app.add_option("--finetune_from", o.finetune_from(), "initial weights from this checkpoint (l2w's or Python's)");
  app.add_flag("--gradient-equilibrium,--GE", f.gradient_equilibrium,
               "IMTA's gradient equilibrium (MSDNet): block k gets its exit's gradient over (n-k) and the later "
               "blocks' times (n-k-1)/(n-k)");
  add_choice(app, "--cuda-graphs,--cuda_graphs", o.cuda_graphs(), kOnOff,
             "with --device cuda: capture the training iteration as CUDA graphs and replay them")
      ->default_str(word_for(kOnOff, o.cuda_graphs()));
}

void add_meta_flags(CLI::App& app, Flags& f) {
  auto& m = f.meta;
  add_choice(app, "--method", f.method, kMethods, "training method")->default_str(word_for(kMethods, f.method));
  auto* from = app.add_option("--imta-from", f.imta_from, "--imta-stage2: the first stage's checkpoint (its backbone, frozen)");
  app.add_flag("--imta-freeze-backbone-bn", f.imta_freeze_backbone_bn,
               "--imta-stage2: keep the frozen backbone in eval mode, its BatchNorm statistics unchanged (IMTA's own "
               "code normalises it with each batch's statistics and updates them)")
      ->needs(from);
  app.add_option("--kd-temperature", f.distillation.temperature(), "--imta-stage2: distillation temperature T")
      ->check(kPositive)
      ->needs(from)
      ->capture_default_str();
  app.add_option("--kd-gamma", f.distillation.gamma(), "--imta-stage2: the teacher's share of each early exit's loss")
      ->check(CLI::Range(0.0, 1.0))
      ->needs(from)
      ->capture_default_str();
  app.add_option("--meta_net_hidden_size", m.wpn().hidden_size())->check(kPositive)->capture_default_str();
  app.add_option("--meta_net_num_layers", m.wpn().num_layers())->check(kPositive)->capture_default_str();
  app.add_option("--meta_interval", m.meta_interval())->check(kPositive)->capture_default_str();
  app.add_option("--meta_lr", m.meta_lr())->check(kNonNegative)->capture_default_str();
  app.add_option("--meta_weight_decay", m.meta_weight_decay())->check(kNonNegative)->capture_default_str();
  app.add_option("--epsilon", m.wpn().epsilon())->check(kNonNegative)->capture_default_str();
  app.add_option("--target_p_index", m.target_p_index(), "1..39")->check(CLI::Range(1, 39))->capture_default_str();
  add_choice(app, "--meta_net_input_type", m.wpn().input(), kWpnInputs, "the WPN's input")
      ->default_str(word_for(kWpnInputs, m.wpn().input()));
  add_choice(app, "--constraint_dimension", m.wpn().constraint(), kConstraints, "what the WPN's outputs are centred over")
      ->default_str(word_for(kConstraints, m.wpn().constraint()));
  add_choice(app, "--meta_grad", m.meta_grad(), kMetaGrads,
             "exact (second-order backward) | fd (first order: a finite-difference directional derivative)")
      ->default_str(word_for(kMetaGrads, m.meta_grad()));
  app.add_option("--fd_epsilon", m.fd_epsilon(), "fd: relative step, delta = e*(1+|theta|)/|h| (0: by precision)")
      ->check(kNonNegative)
      ->capture_default_str();
}

void add_latency_flag(CLI::App& app, Flags& f) {
  app.add_option("--latency-images", f.latency_images, "images timed one at a time for latency")->check(kPositive);
}

void add_deployment_flags(CLI::App& app, Flags& f) {
  add_choice(app, "--memory-format", f.deployment.layout(), kLayouts,
             "layout of the inference form's weights and activations (auto: the faster measured)")
      ->default_str(word_for(kLayouts, f.deployment.layout()));
  app.add_flag("--training-form", f.deployment.training_form(),
               "run the network as trained (BatchNorm not folded, contiguous): for comparison");
  add_choice(app, "--batching", f.deployment.batching(), kBatchings,
             "stage-wise: every block at --batch-size, images waiting between blocks; per-batch: each batch "
             "compacted at every exit (for comparison)")
      ->default_str(word_for(kBatchings, f.deployment.batching()));
}

#ifdef L2W_WITH_SERVER
namespace {

// A flag in milliseconds for an option in seconds: the default shown is the library's, converted.
CLI::Option* add_milliseconds(CLI::App& app, const std::string& name, double& seconds, const std::string& help) {
  auto* option = app.add_option_function<double>(
      name, [&seconds](double ms) { seconds = ms / 1e3; }, help);
  std::ostringstream shown;
  shown << seconds * 1e3;
  return option->default_str(shown.str());
}

}  // namespace

void add_serving_flags(CLI::App& app, Flags& f) {
  auto& s = f.serving;
  add_milliseconds(app, "--slo-ms", s.controller().slo_s(),
                   "latency target per request, ms: the budget falls as load rises to keep it")
      ->check(kPositive);
  app.add_option("--budgets", s.budgets(), "budget menu file (default: fitted on the validation images, RUN/budgets.txt)");
  app.add_option("--budget", s.budget_muladds(), "pin the most expensive budget within these MUL-ADDs per image")
      ->check(kPositive);
  app.add_option("--max-batch", s.controller().max_batch(), "images per batch at most")
      ->check(kPositive)
      ->capture_default_str();
  add_milliseconds(app, "--max-wait-ms", s.controller().max_wait_s(), "how long a batch waits to fill, ms")
      ->check(kNonNegative);
  app.add_option("--max-queue", s.queue().max_queued_images(), "images queued at most; beyond, 503")
      ->check(kPositive)
      ->capture_default_str();
  app.add_option("--max-body-bytes", s.server().max_body_bytes(), "request bodies beyond this get 413")
      ->check(kPositive)
      ->capture_default_str();
  app.add_option("--max-image-pixels", s.server().max_image_pixels(),
                 "images whose headers declare more pixels get 413, undecoded (default: Pillow's limit)")
      ->check(kPositive)
      ->capture_default_str();
  add_deployment_flags(app, f);
  add_exit_criterion_flag(app, f);
}

void add_listening_flags(CLI::App& app, Flags& f) {
  auto& server = f.serving.server();
  app.add_option("--bind", server.bind(), "address to listen on (default loopback only)")->capture_default_str();
  app.add_option("--port", server.port(), "port (0: a free one, printed)")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str();
  app.add_option("--access-log", server.access_log(),
                 "append a line per request to this file: time, request id, method and path, status, exits, ms");
}

void add_load_flags(CLI::App& app, Flags& f) {
  app.add_option("--loads", f.serve_loads, "offered loads as shares of the full network's capacity (default 0.25,1.5)");
  app.add_option("--seconds", f.serve_seconds, "duration of each load")->check(kPositive);
  add_choice(app, "--client", f.client_mode, kClientModes,
             "keep-alive: a connection per client, kept open; new-connection: a new one per request; both")
      ->default_str(word_for(kClientModes, f.client_mode));
  app.add_option("--clients", f.clients, "client threads, each with one request in flight")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
}
#endif

void add_exit_criterion_flag(CLI::App& app, Flags& f) {
  add_choice(app, "--exit-criterion", f.exit_criterion, kExitCriteria,
             "each exit's score compared with its threshold (docs/exit_policies.md)")
      ->default_str(word_for(kExitCriteria, f.exit_criterion));
}

void apply_data_defaults(const CLI::App& app, Flags& f) {
  const auto* given = app.get_option_no_throw("--num_sample_valid");
  if (given != nullptr && given->count() == 0 && f.data.name == "ImageNet") f.run.num_sample_valid(50000);
}

namespace {

// The flags both backbones take, where given, and the data's geometry, onto either's options.
template <class BackboneOptions>
void apply_shared_flags(const Flags& f, const dataset::DataGeometry& g, BackboneOptions& o) {
  if (f.n_blocks) o.n_blocks(*f.n_blocks);
  if (f.n_channels) o.n_channels(*f.n_channels);
  if (f.growth_rate) o.growth_rate(*f.growth_rate);
  if (f.gr_factor) o.gr_factor(*f.gr_factor);
  if (f.bn_factor) o.bn_factor(*f.bn_factor);
  if (f.step) o.step(*f.step);
  if (f.reduction) o.reduction(*f.reduction);
  o.num_classes(g.num_classes).in_channels(g.channels).imagenet(g.imagenet);
}

}  // namespace

models::NetworkOptions network_options(const Flags& f, const dataset::DataGeometry& g) {
  models::NetworkOptions o;
  o.arch(f.arch);
  o.imta_heads(f.imta_stage2);
  if (o.arch() == models::Arch::kRANet) {
    auto& r = o.ranet();
    r = f.ranet;
    if (f.stepmode == StepModeFlag::kLinGrow) throw FlagError("--stepmode: RANet takes even or lg");
    if (f.stepmode) r.step_grows(*f.stepmode == StepModeFlag::kLg);
    apply_shared_flags(f, g, r);
    const auto n = r.scale_list().size();
    if (r.gr_factor().size() != n || r.bn_factor().size() != n)
      throw FlagError("--grFactor, --bnFactor and --scale-list must list the same number of flows");
    return o;
  }
  auto& m = o.msdnet();
  m = f.msdnet;
  if (f.stepmode == StepModeFlag::kLg) throw FlagError("--stepmode: MSDNet takes even or lin_grow");
  if (f.stepmode) m.step_mode(*f.stepmode == StepModeFlag::kEven ? models::StepMode::kEven : models::StepMode::kLinGrow);
  apply_shared_flags(f, g, m);
  if (m.gr_factor().size() != m.bn_factor().size())
    throw FlagError("--grFactor and --bnFactor must list the same number of scales");
  return o;
}

dataset::DataGeometry data_geometry(const Flags& f, const dataset::DataSplits& data) {
  auto g = dataset::geometry(f.data.name);
  g.num_classes = data.train->num_classes;
  return g;
}

dataset::DataOptions data_options(const Flags& f) { return f.data; }

train::TrainerOptions trainer_options(const Flags& f, const torch::Device& device) {
  if (f.run.sgd().nesterov() && f.run.sgd().momentum() == 0) throw FlagError("--nesterov needs a non-zero --momentum");
  auto o = f.run;
  o.schedule().base_lr = o.sgd().lr();
  o.schedule().milestones = train::default_milestones(f.data.name, o.epochs());
  // IMTA's second stage chooses thresholds on its first stage's held-out images.
  if (!f.imta_from.empty()) o.adopt_valid_index(io::run_folder_of_checkpoint(f.imta_from).valid_index());
  return o.device(device);
}

meta::MethodOptions method_options(const Flags& f) {
  return meta::MethodOptions().method(f.method).meta(f.meta).distillation(f.distillation).amp(f.run.amp());
}

train::NetworkBuildOptions build_options(const Flags& f, const models::NetworkOptions& arch) {
  return train::NetworkBuildOptions()
      .arch(arch)
      .seed(f.run.seed())
      .gradient_equilibrium(f.gradient_equilibrium)
      .imta_from(f.imta_from)
      .imta_freeze_backbone_bn(f.imta_freeze_backbone_bn);
}

namespace {

// The flag of each library option whose field has another name.
const std::vector<std::pair<std::string, std::string>> kFlagOfField{
    {"gradient_equilibrium", "--gradient-equilibrium"},
    {"imta_heads", "--imta-stage2"},
    {"imta_from", "--imta-from"},
    {"method", "--method"},
    {"budget_muladds", "--budget"},
    {"max_accuracy_drop", "--max-accuracy-drop"},
    {"risk_confidence", "--risk-confidence"},
    {"num_sample_valid", "--num_sample_valid"},
    {"budgets", "--budgets"},
    {"exit_criterion", "--exit-criterion"},
    {"lr", "--lr"},
    {"momentum", "--momentum"},
    {"weight_decay", "--weight-decay"},
};

}  // namespace

FlagError flag_error(const std::exception& e) {
  std::string message = e.what();
  const auto identifier = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-'; };
  for (const auto& [field, flag] : kFlagOfField) {
    // A field named by a plain word is the option only where it leads the message.
    const bool anywhere = field.find('_') != std::string::npos;
    for (size_t at = message.find(field); at != std::string::npos; at = message.find(field, at)) {
      const size_t end = at + field.size();
      const bool whole = (at == 0 || !identifier(message[at - 1])) && (end == message.size() || !identifier(message[end]));
      if (whole && (anywhere || at == 0)) {
        message.replace(at, field.size(), flag);
        at += flag.size();
      } else {
        at = end;
      }
    }
  }
  return FlagError(message);
}

infer::DeploymentOptions deployment_options(const Flags& f) {
  auto o = f.deployment;
  return o.choose_latency_threads(f.threads <= 0);
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

}  // namespace l2w::cli
