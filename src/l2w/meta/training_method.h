// The training step of a method, for the trainer's loop or a user's own: plain multi-exit training, L2W,
// or IMTA's second-stage distillation (chosen by the network: one with IMTA's heads distils).
#pragma once

#include "l2w/criterion/knowledge_distillation.h"
#include "l2w/meta/l2w_step.h"
#include "l2w/train/trainer.h"

namespace l2w::meta {

enum class Method { kL2W, kPlain };
std::string method_name(Method method);  // "l2w", "plain"

struct MethodOptions {
  TORCH_ARG(Method, method) = Method::kL2W;
  // L2W's settings; its label smoothing applies to plain training too. The WPN's exit count is the
  // network's.
  TORCH_ARG(MetaOptions, meta) = MetaOptions(1);
  // IMTA's second stage (a network with IMTA's heads, trained plainly by distillation).
  TORCH_ARG(criterion::DistillationOptions, distillation);
  // Mixed precision of the real step.
  TORCH_ARG(runtime::Amp, amp) = runtime::Amp::kOff;

 public:
  // method, L2W's options and the distillation's (amp is the trainer's).
  static const options::OptionList<MethodOptions>& option_list();
};

// std::invalid_argument naming the field when the method does not fit the network (L2W on IMTA's second
// stage, which trains by distillation: docs/algorithm.md, "IMTA").
std::unique_ptr<train::TrainStep> make_step(const MethodOptions& options, models::MultiExitNetworkImpl& net,
                                            train::Sgd& sgd, distributed::DataParallel* parallel = nullptr);
// make_step as the trainer takes it.
train::StepFactory step_factory(const MethodOptions& options);

}  // namespace l2w::meta
