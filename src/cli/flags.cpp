#include "flags.h"

#include <cctype>
#include <cstdlib>
#include <map>
#include <sstream>
#include <utility>

#include "l2w/io/run_folder.h"
#include "l2w/runtime/mixed_precision.h"

namespace l2w::cli {

// The flag of each option name, as added: what errors naming an option are rendered with.
namespace {

std::map<std::string, std::string>& flags_of_options() {
  static std::map<std::string, std::string> flags;
  return flags;
}

}  // namespace

void register_flag(const std::string& name, const std::string& flag) { flags_of_options().emplace(name, flag); }

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

const Choices<ClientMode> kClientModes{
    {"keep-alive", ClientMode::kKeepAlive}, {"new-connection", ClientMode::kNewConnection}, {"both", ClientMode::kBoth}};
const Choices<StepModeFlag> kStepModes{
    {"even", StepModeFlag::kEven}, {"lin_grow", StepModeFlag::kLinGrow}, {"lg", StepModeFlag::kLg}};
const Choices<models::Arch> kArchs = named({models::Arch::kMSDNet, models::Arch::kRANet}, models::arch_name);
const Choices<models::Prune> kPrunes = named({models::Prune::kMax, models::Prune::kMin}, models::prune_name);
const Choices<criterion::ExitCriterion> kExitCriteria = [] {
  Choices<criterion::ExitCriterion> choices;
  for (const auto c : criterion::all_exit_criteria()) choices.emplace_back(criterion::exit_criterion_name(c), c);
  return choices;
}();
const Choices<bool> kTrueFalse{{"true", true}, {"false", false}, {"True", true}, {"False", false}, {"1", true}, {"0", false}};


// The options of `list` in `group` as flags setting `target`: spellings, help, the default shown (the
// struct's own), and the option's own parsing and checks.
template <class S>
void add_options(CLI::App& app, S& target, const options::OptionList<S>& list, const std::string& group) {
  for (const auto& o : list) {
    if (o.group != group || o.flags.empty()) continue;
    std::string names;
    for (const auto& flag : o.flags) names += (names.empty() ? "" : ",") + flag;
    register_flag(o.name, o.flags.front());
    if (o.is_switch) {
      app.add_flag_function(names, [&target, set = o.set](int64_t) { set(target, "true"); }, o.help);
      continue;
    }
    app.add_option_function<std::string>(
           names,
           [&target, set = o.set, flag = o.flags.front()](const std::string& text) {
             try {
               set(target, text);
             } catch (const options::OptionError& e) {
               throw CLI::ValidationError(flag, e.why);
             }
           },
           o.help)
        ->type_name(o.type_name)
        ->default_str(o.text(target));
  }
}

// A dash-separated list of positive integers (1-2-4) into `target`.
template <class Target>
CLI::Option* add_factors(CLI::App& app, const std::string& names, Target& target, const std::string& help) {
  const std::string flag = names.substr(0, names.find(','));
  return app
      .add_option_function<std::string>(
          names,
          [&target, flag](const std::string& text) {
            try {
              target = options::parse_dash_list(flag, text);
            } catch (const options::OptionError& e) {
              throw CLI::ValidationError(flag, e.why);
            }
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
  add_options(app, f.run, train::TrainerOptions::option_list(), "runtime");
  add_options(app, f.runtime, runtime::RuntimeOptions::option_list(), "runtime");
}

void add_run_flags(CLI::App& app, Flags& f) { add_options(app, f.run, train::TrainerOptions::option_list(), "run"); }

void add_precision_flag(CLI::App& app, Flags& f) {
  add_options(app, f.run, train::TrainerOptions::option_list(), "precision");
}

void add_checkpoint_flags(CLI::App& app, Flags& f) {
  app.add_option("--evaluate_from", f.evaluate_from, "checkpoint to evaluate");
}

void add_eval_flags(CLI::App& app, Flags& f) {
  add_options(app, f.evaluation, eval::EvaluationOptions::option_list(), "eval");
  app.get_option("--max-accuracy-drop")->excludes("--budget");
  app.get_option("--risk-confidence")->needs("--max-accuracy-drop");
  add_exit_criterion_flag(app, f);
}

void add_distributed_flags(CLI::App& app, Flags& f) {
  register_flag("dist_url", "--dist_url");
  register_flag("dist_backend", "--dist_backend");
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
  add_options(app, f.data, dataset::DataOptions::option_list(), "data");
  add_options(app, f.run, train::TrainerOptions::option_list(), "data");
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
  add_options(app, f.run, train::TrainerOptions::option_list(), "optimizer");
  add_options(app, f.method, meta::MethodOptions::option_list(), "optimizer");
  app.add_flag("--gradient-equilibrium,--GE", f.gradient_equilibrium,
               "IMTA's gradient equilibrium (MSDNet): block k gets its exit's gradient over (n-k) and the later "
               "blocks' times (n-k-1)/(n-k)");
  register_flag("gradient_equilibrium", "--gradient-equilibrium");
}

void add_meta_flags(CLI::App& app, Flags& f) {
  add_options(app, f.method, meta::MethodOptions::option_list(), "meta");
  auto* from = app.add_option("--imta-from", f.imta_from, "--imta-stage2: the first stage's checkpoint (its backbone, frozen)");
  register_flag("imta_from", "--imta-from");
  app.add_flag("--imta-freeze-backbone-bn", f.imta_freeze_backbone_bn,
               "--imta-stage2: keep the frozen backbone in eval mode, its BatchNorm statistics unchanged (IMTA's own "
               "code normalises it with each batch's statistics and updates them)")
      ->needs(from);
  // The distillation's options mean something only for the second stage.
  for (const auto* flag : {"--kd-temperature", "--kd-gamma"}) app.get_option(flag)->needs(from);
}

void add_latency_flag(CLI::App& app, Flags& f) {
  app.add_option("--latency-images", f.latency_images, "images timed one at a time for latency")->check(kPositive);
}

void add_deployment_flags(CLI::App& app, Flags& f) {
  add_options(app, f.deployment, infer::DeploymentOptions::option_list(), "deployment");
}

#ifdef L2W_WITH_SERVER
void add_serving_flags(CLI::App& app, Flags& f) {
  add_options(app, f.serving, serve::ServingOptions::option_list(), "serving");
  add_deployment_flags(app, f);
  add_exit_criterion_flag(app, f);
}

void add_listening_flags(CLI::App& app, Flags& f) {
  add_options(app, f.serving, serve::ServingOptions::option_list(), "listening");
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
  register_flag("exit_criterion", "--exit-criterion");
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
  try {
    return train::complete_trainer_options(f.run, f.data.name, f.imta_from).device(device);
  } catch (const std::invalid_argument& e) {
    throw flag_error(e);
  }
}

meta::MethodOptions method_options(const Flags& f) {
  auto o = f.method;
  return o.amp(f.run.amp());
}

train::NetworkBuildOptions build_options(const Flags& f, const models::NetworkOptions& arch) {
  return train::NetworkBuildOptions()
      .arch(arch)
      .seed(f.run.seed())
      .gradient_equilibrium(f.gradient_equilibrium)
      .imta_from(f.imta_from)
      .imta_freeze_backbone_bn(f.imta_freeze_backbone_bn);
}

std::string flag_of(const std::string& name) {
  const auto& flags = flags_of_options();
  const auto found = flags.find(name);
  return found == flags.end() ? name : found->second;
}

FlagError flag_error(const std::exception& e) {
  if (const auto* option = dynamic_cast<const options::OptionError*>(&e)) return FlagError(flag_of(option->name) + ": " + option->why);
  return FlagError(e.what());
}

infer::DeploymentOptions deployment_options(const Flags& f) {
  auto o = f.deployment;
  return o.choose_latency_threads(f.runtime.threads() <= 0);
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
    throw flag_error(e);
  }
}

}  // namespace l2w::cli
