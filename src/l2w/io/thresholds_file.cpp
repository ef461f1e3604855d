#include "l2w/io/thresholds_file.h"
#include "l2w/runtime/atomic_file.h"

#include "l2w/io/key_value_file.h"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <stdexcept>

namespace l2w::io {
std::string threshold_text(float v) {
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", static_cast<double>(v));
  return buf;
}

std::optional<float> parse_threshold(const std::string& text) {
  char* end = nullptr;
  const float value = std::strtof(text.c_str(), &end);
  if (end == text.c_str() || *end != '\0' || std::isnan(value)) return std::nullopt;
  return value;
}

void write_thresholds(const std::string& path, const ExitThresholds& t) {
  if (t.thresholds.size() != t.exit_muladds.size())
    throw std::invalid_argument("thresholds file: thresholds and exit costs disagree in number");
  std::ostringstream out;
  out.precision(10);
  {
    out << "# l2w exit thresholds. A sample leaves at the first exit whose score by the criterion is >= the\n"
        << "# exit's threshold (inf: never; the last exit takes everyone left). Chosen on the validation set as\n"
        << "# the most expensive candidate (one of the 39 target distributions; patience: a patience) whose\n"
        << "# expected MUL-ADDs fit the budget.\n"
        << "l2w-thresholds 1\n"
        << "criterion " << criterion::exit_criterion_name(t.criterion) << "\n"
        << "precision " << t.precision << "\n"
        << "exits " << t.thresholds.size() << "\n"
        << "budget_muladds " << t.budget_muladds << "\n"
        << "p_index " << t.p_index << "\n"
        << "valid_accuracy " << t.valid_accuracy << "\n"
        << "valid_expected_muladds " << t.valid_expected_muladds << "\n";
    for (size_t k = 0; k < t.thresholds.size(); ++k)
      out << "exit " << k + 1 << " threshold " << threshold_text(t.thresholds[k]) << " muladds " << t.exit_muladds[k]
          << "\n";
    if (!t.temperatures.empty()) {
      out << "temperatures";
      for (const auto temperature : t.temperatures) out << " " << threshold_text(temperature);
      out << "\n";
    }
  }
  runtime::write_file_atomically(path, out.str());
}

ExitThresholds read_thresholds(const std::string& path) {
  KeyValueReader in(path, "thresholds file");
  ExitThresholds t;
  int64_t exits = -1;
  bool versioned = false;
  while (in.next()) {
    const auto& key = in.key();
    auto& fields = in.fields();
    if (key == "l2w-thresholds") {
      in.expect_version(1);
      versioned = true;
    } else if (key == "criterion") {
      t.criterion = in.criterion();
    } else if (key == "precision") {
      if (!(fields >> t.precision) || (t.precision != "fp32" && t.precision != "bf16"))
        throw in.error("expected 'precision fp32' or 'precision bf16'");
    } else if (key == "exits") {
      if (!(fields >> exits) || exits < 1) throw in.error("bad exit count");
    } else if (key == "budget_muladds") {
      if (!(fields >> t.budget_muladds)) throw in.error("bad number");
    } else if (key == "p_index") {
      if (!(fields >> t.p_index)) throw in.error("bad number");
    } else if (key == "valid_accuracy") {
      if (!(fields >> t.valid_accuracy)) throw in.error("bad number");
    } else if (key == "valid_expected_muladds") {
      if (!(fields >> t.valid_expected_muladds)) throw in.error("bad number");
    } else if (key == "exit") {
      int64_t k = 0, muladds = 0;
      std::string threshold_key, threshold, muladds_key;
      if (!(fields >> k >> threshold_key >> threshold >> muladds_key >> muladds) || threshold_key != "threshold" ||
          muladds_key != "muladds")
        throw in.error("expected 'exit K threshold T muladds M'");
      if (k != static_cast<int64_t>(t.thresholds.size()) + 1) throw in.error("exits out of order");
      const auto value = parse_threshold(threshold);
      if (!value) throw in.error("bad threshold");
      t.thresholds.push_back(*value);
      t.exit_muladds.push_back(muladds);
    } else if (key == "temperatures") {
      for (std::string text; fields >> text;) {
        const auto value = parse_threshold(text);
        if (!value || !(*value > 0) || std::isinf(*value)) throw in.error("bad temperature '" + text + "'");
        t.temperatures.push_back(*value);
      }
    } else {
      throw in.error("unknown key");
    }
  }
  if (!versioned) throw std::runtime_error(path + ": not an l2w thresholds file (no 'l2w-thresholds 1' line)");
  if (exits < 1 || static_cast<int64_t>(t.thresholds.size()) != exits)
    throw std::runtime_error(path + ": expected " + std::to_string(exits) + " exit lines, found " +
                             std::to_string(t.thresholds.size()));
  if (!t.temperatures.empty() && t.temperatures.size() != t.thresholds.size())
    throw std::runtime_error(path + ": expected one temperature per exit, found " + std::to_string(t.temperatures.size()));
  return t;
}

}  // namespace l2w::io
