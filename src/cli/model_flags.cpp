#include "model_flags.h"

#include <string>

namespace l2w::cli {
namespace {

template <class T, class Name>
Choices<T> named(std::initializer_list<T> values, Name name) {
  Choices<T> choices;
  for (const T& v : values) choices.emplace_back(name(v), v);
  return choices;
}

const Choices<StepModeFlag> kStepModes{
    {"even", StepModeFlag::kEven}, {"lin_grow", StepModeFlag::kLinGrow}, {"lg", StepModeFlag::kLg}};
const Choices<models::Arch> kArchs = named({models::Arch::kMSDNet, models::Arch::kRANet}, models::arch_name);
const Choices<models::Prune> kPrunes = named({models::Prune::kMax, models::Prune::kMin}, models::prune_name);
const Choices<bool> kTrueFalse{{"true", true}, {"false", false}, {"True", true}, {"False", false}, {"1", true}, {"0", false}};

// "5 (MSDNet), 2 (RANet)": the shared flags' defaults, read off the options structs.
std::string both_defaults(const std::string& msdnet, const std::string& ranet) {
  return " (default: " + msdnet + " MSDNet, " + ranet + " RANet)";
}

void add_architecture_flags(CLI::App& app, ModelFlags& f) {
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
  register_flag("imta_stage2", "--imta-stage2");
}

// The flags both backbones take, where given, and the data's geometry, onto either's options.
template <class BackboneOptions>
void apply_shared_flags(const ModelFlags& f, const dataset::DataGeometry& g, BackboneOptions& o) {
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

void add_runtime_flags(CLI::App& app, runtime::RuntimeOptions& runtime) {
  add_options(app, runtime, runtime::RuntimeOptions::option_list(), "runtime");
}

void add_model_flags(CLI::App& app, ModelFlags& f) {
  add_runtime_flags(app, f.runtime);
  add_options(app, f.data, dataset::DataOptions::option_list(), "data");
  add_architecture_flags(app, f);
}

torch::Device setup_runtime(const runtime::RuntimeOptions& runtime) {
  try {
    return runtime::set_up_run(runtime);
  } catch (const std::invalid_argument& e) {
    throw flag_error(e);
  }
}

models::NetworkOptions network_options(const ModelFlags& f, const dataset::DataGeometry& g) {
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

dataset::DataGeometry data_geometry(const ModelFlags& f, const dataset::DataSplits& data) {
  auto g = dataset::geometry(f.data.name);
  g.num_classes = data.train->num_classes;
  return g;
}

}  // namespace l2w::cli
