// Thresholds with a guarantee (docs/exit_policies.md, "Risk-controlled thresholds"): the cheapest
// candidate threshold set whose accuracy lost against the last exit is, with probability at least
// `confidence` over the draw of the validation images, at most `max_drop`.
//
// An image is harmed when the last exit classifies it correctly and the exit it took does not; the test
// accuracy lost is at most the harmed share. Its Clopper-Pearson upper bound on the validation images is
// compared with max_drop for each candidate in order of decreasing cost, starting from no early exit at all,
// and the sequence stops at the first that fails (fixed-sequence testing, as Learn then Test does), so that
// the guarantee holds for the choice, not only for each candidate alone.
#pragma once

#include <cstdint>
#include <vector>

#include "l2w/eval/dynamic.h"

namespace l2w::eval {

// The smallest p with P(Binomial(n, p) <= failures) <= 1 - confidence: the one-sided upper bound.
double binomial_upper_bound(int64_t failures, int64_t n, double confidence);

struct RiskControlledChoice {
  io::ExitThresholds thresholds;  // the chosen set, as the thresholds file holds it
  int64_t harmed = 0;             // validation images harmed by it
  double bound = 0;               // its upper bound on the accuracy lost (a share, 0..1)
  double valid_drop = 0;          // the accuracy lost on the validation images (a share)
};

// std::invalid_argument when even no early exit fails the bound (too few validation images for
// this max_drop at this confidence).
RiskControlledChoice risk_controlled_thresholds(const ExitConfidences& valid, const std::vector<nn::Cost>& costs,
                                                double max_drop, double confidence);

}  // namespace l2w::eval
