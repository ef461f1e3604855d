// The thresholds file: what budgeted evaluation hands to deployment (`l2w eval --budget`, `l2w infer`).
//
// A small text file, one `key value…` per line, '#' starts a comment:
//
//   l2w-thresholds 1
//   criterion max-prob
//   precision fp32                      (the network's outputs they were fitted on: fp32 or bf16)
//   exits 3
//   budget_muladds 5000000
//   p_index 12
//   valid_accuracy 89.42
//   valid_expected_muladds 4823120.5
//   exit 1 threshold 0.987654321 muladds 2560000
//   exit 2 threshold 0.91234 muladds 5420000
//   exit 3 threshold -inf muladds 8370000
//   temperatures 1.42 1.21 1.05          (eval --calibrate only)
//
// A sample leaves at the first exit whose score by the criterion (criterion/exit_criterion.h; float32;
// a file without the line is max-prob's, the largest softmax probability) is >= that exit's threshold;
// `inf` means the exit is never taken, the last exit's `-inf` takes everyone left. Thresholds are
// written with nine significant digits, which reproduce a float32 exactly. A criterion this l2w does not
// know is refused.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "l2w/criterion/exit_criterion.h"

namespace l2w::io {

struct ExitThresholds {
  criterion::ExitCriterion criterion = criterion::ExitCriterion::kMaxProb;
  // The precision of the outputs they were fitted on (runtime/precision.h); a file without the line is fp32's.
  std::string precision = "fp32";
  std::vector<float> thresholds;       // per exit
  std::vector<int64_t> exit_muladds;   // cumulative MUL-ADDs to reach each exit
  double budget_muladds = 0;           // what was asked for
  int64_t p_index = 0;                 // the target distribution chosen (1..39); patience: the patience
  double valid_accuracy = 0;           // percent, on the validation set
  double valid_expected_muladds = 0;   // per image, on the validation set
  // Per exit, what its logits are divided by before the softmax (eval --calibrate); empty: none.
  std::vector<float> temperatures;
};

void write_thresholds(const std::string& path, const ExitThresholds& t);
// A threshold as the file writes it ("inf", "-inf", or nine significant digits), and back (nullopt for
// anything else, NaN included).
std::string threshold_text(float threshold);
std::optional<float> parse_threshold(const std::string& text);
// Throws std::runtime_error naming the file (and line) for anything malformed or missing.
ExitThresholds read_thresholds(const std::string& path);

}  // namespace l2w::io
