// Learning-rate schedules (docs/algorithm.md, "Training"): cosine per iteration, or multistep per epoch.
#pragma once

#include <string>
#include <vector>

#include "l2w/runtime/option_list.h"

namespace l2w::train {

enum class LrType { kCosine, kMultistep };
std::string lr_type_name(LrType type);  // "cosine", "multistep"

struct LrSchedule {
  LrType type = LrType::kCosine;
  double base_lr = 0.1;
  int64_t epochs = 1;
  int64_t iterations_per_epoch = 1;
  double decay_rate = 0.1;
  std::vector<double> milestones;  // multistep: epochs at which the rate is multiplied by decay_rate

  // The rate for iteration `iteration` (0-based) of epoch `epoch` (0-based).
  double at(int64_t epoch, int64_t iteration) const;

  // type, decay_rate and milestones (base_lr, epochs and iterations come from the trainer).
  static const options::OptionList<LrSchedule>& option_list();
};

// The MSDNet convention for multistep milestones: CIFAR-style data at 50% and 75% of the epochs,
// ImageNet every 30 epochs.
std::vector<double> default_milestones(const std::string& data, int64_t epochs);

}  // namespace l2w::train
