#include "l2w/meta/training_method.h"

#include "l2w/models/imta_network.h"
#include "l2w/train/distillation_step.h"

namespace l2w::meta {

std::string method_name(Method method) { return method == Method::kL2W ? "l2w" : "plain"; }

const options::OptionList<MethodOptions>& MethodOptions::option_list() {
  using namespace options;
  using M = MethodOptions;
  static const OptionList<M> list = joined<M>({
      {choice<M>("method", {"--method"}, L2W_FIELD(method), named({Method::kL2W, Method::kPlain}, method_name),
                 "training method")
           .in("meta")},
      nested<M>(MetaOptions::option_list(), L2W_FIELD(meta)),
      nested<M>(criterion::DistillationOptions::option_list(), L2W_FIELD(distillation)),
  });
  return list;
}

std::unique_ptr<train::TrainStep> make_step(const MethodOptions& options, models::MultiExitNetworkImpl& net,
                                            train::Sgd& sgd, distributed::DataParallel* parallel) {
  if (auto* imta = dynamic_cast<models::ImtaNetworkImpl*>(&net)) {
    if (options.method() == Method::kL2W)
      throw options::OptionError("method", "IMTA's second stage trains by distillation (plain); L2W weights the first stage");
    return std::make_unique<train::DistillationStep>(*imta, sgd, options.distillation(), parallel, options.amp());
  }
  if (options.method() == Method::kPlain)
    return std::make_unique<train::PlainStep>(net, sgd, options.meta().label_smoothing(), parallel, options.amp());
  auto meta = options.meta();
  meta.wpn().num_exits(net.num_exits());
  meta.amp(options.amp());
  return std::make_unique<L2WStep>(net, sgd, meta, parallel);
}

train::StepFactory step_factory(const MethodOptions& options) {
  return [options](models::MultiExitNetworkImpl& net, train::Sgd& sgd, distributed::DataParallel* parallel) {
    return make_step(options, net, sgd, parallel);
  };
}

}  // namespace l2w::meta
