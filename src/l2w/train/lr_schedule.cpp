#include "l2w/train/lr_schedule.h"

#include <cmath>

namespace l2w::train {

std::string lr_type_name(LrType type) { return type == LrType::kCosine ? "cosine" : "multistep"; }

double LrSchedule::at(int64_t epoch, int64_t iteration) const {
  if (type == LrType::kCosine) {
    const double t = double(epoch * iterations_per_epoch + iteration);
    const double total = double(epochs * iterations_per_epoch);
    return 0.5 * base_lr * (1.0 + std::cos(M_PI * t / total));
  }
  double lr = base_lr;
  for (double m : milestones) {
    if (double(epoch) >= m) lr *= decay_rate;
  }
  return lr;
}

const options::OptionList<LrSchedule>& LrSchedule::option_list() {
  using namespace options;
  static const OptionList<LrSchedule> list{
      choice<LrSchedule>("lr_type", {"--lr-type"}, L2W_MEMBER(type),
                         named({LrType::kCosine, LrType::kMultistep}, lr_type_name), "learning-rate schedule")
          .in("optimizer"),
      value<LrSchedule>("decay_rate", {"--decay-rate"}, L2W_MEMBER(decay_rate), "multistep decay factor",
                        Check::kUnitInterval)
          .in("optimizer"),
      number_list<LrSchedule>("milestones", {"--milestones"}, L2W_MEMBER(milestones),
                              "multistep: epochs at which the rate decays (default: 50% and 75% of the epochs; "
                              "ImageNet every 30)")
          .in("optimizer"),
  };
  return list;
}

std::vector<double> default_milestones(const std::string& data, int64_t epochs) {
  if (data == "ImageNet") {
    std::vector<double> m;
    for (int64_t e = 30; e < epochs; e += 30) m.push_back(double(e));
    return m;
  }
  return {0.5 * double(epochs), 0.75 * double(epochs)};
}

}  // namespace l2w::train
