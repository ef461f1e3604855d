#include "l2w/models/network_options.h"

#include <cctype>
#include <sstream>
#include <stdexcept>

namespace l2w::models {
namespace {

std::string join(const std::vector<int64_t>& v) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s.append(i ? "-" : "").append(std::to_string(v[i]));
  return s;
}

}  // namespace

std::string arch_name(Arch arch) { return arch == Arch::kMSDNet ? "msdnet" : "RANet"; }

Arch parse_arch(const std::string& name) {
  std::string lower;
  for (char c : name) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "msdnet") return Arch::kMSDNet;
  if (lower == "ranet") return Arch::kRANet;
  throw std::invalid_argument("unknown architecture '" + name + "' (expected msdnet or RANet)");
}

MultiExitNetwork make_network(const NetworkOptions& options) {
  if (options.arch() == Arch::kMSDNet) return MSDNet(options.msdnet()).ptr();
  return RANet(options.ranet()).ptr();
}

std::string describe(const NetworkOptions& options) {
  std::ostringstream out;
  out << arch_name(options.arch());
  if (options.arch() == Arch::kMSDNet) {
    const auto& o = options.msdnet();
    out << " nBlocks=" << o.n_blocks() << " nChannels=" << o.n_channels() << " base=" << o.base()
        << " stepmode=" << (o.step_mode() == StepMode::kEven ? "even" : "lin_grow") << " step=" << o.step()
        << " growthRate=" << o.growth_rate() << " grFactor=" << join(o.gr_factor())
        << " bnFactor=" << join(o.bn_factor()) << " prune=" << (o.prune() == Prune::kMax ? "max" : "min")
        << " bottleneck=" << (o.bottleneck() ? "true" : "false") << " reduction=" << o.reduction()
        << " classes=" << o.num_classes() << " in_channels=" << o.in_channels()
        << " stem=" << (o.imagenet() ? "imagenet" : "small");
  } else {
    const auto& o = options.ranet();
    out << " nBlocks=" << o.n_blocks() << " block-step=" << o.block_step() << " nChannels=" << o.n_channels()
        << " growthRate=" << o.growth_rate() << " grFactor=" << join(o.gr_factor()) << " bnFactor=" << join(o.bn_factor())
        << " scale-list=" << join(o.scale_list()) << " compress-factor=" << o.compress_factor() << " step=" << o.step()
        << " stepmode=" << (o.step_grows() ? "lg" : "even") << " reduction=" << o.reduction()
        << " classes=" << o.num_classes() << " in_channels=" << o.in_channels()
        << " stem=" << (o.imagenet() ? "imagenet" : "small");
  }
  return out.str();
}

}  // namespace l2w::models
