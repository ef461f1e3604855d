#include "l2w/io/run_folder.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "l2w/runtime/atomic_file.h"

namespace l2w::io {
namespace fs = std::filesystem;

RunFolder::RunFolder(std::string dir) : dir_(std::move(dir)) {}

const RunFolder& RunFolder::create() const {
  std::error_code ec;
  fs::create_directories(fs::path(dir_) / "save_models", ec);
  if (ec) throw std::runtime_error(dir_ + ": cannot create run folder (" + ec.message() + ")");
  return *this;
}

std::string RunFolder::file(const std::string& name) const { return (fs::path(dir_) / name).string(); }

std::string RunFolder::per_sample(int64_t epoch, const std::string& what) const {
  char name[64];
  std::snprintf(name, sizeof name, "epoch_%03lld_", static_cast<long long>(epoch));
  return (fs::path(dir_) / "per_sample" / (name + what + ".tsv")).string();
}

std::string RunFolder::checkpoint(int64_t epoch) const {
  char name[64];
  std::snprintf(name, sizeof name, "checkpoint_%03lld.pth.tar", static_cast<long long>(epoch));
  return (fs::path(dir_) / "save_models" / name).string();
}

std::string RunFolder::checkpoint_within_epoch(int64_t epochs_done, int64_t iteration) const {
  char name[64];
  std::snprintf(name, sizeof name, "checkpoint_%03lld_%06lld.pth.tar", static_cast<long long>(epochs_done),
                static_cast<long long>(iteration));
  return (fs::path(dir_) / "save_models" / name).string();
}

std::string RunFolder::best_checkpoint() const {
  return (fs::path(dir_) / "save_models" / "model_best.pth.tar").string();
}

std::optional<std::string> RunFolder::latest_checkpoint() const {
  std::ifstream in(fs::path(dir_) / "save_models" / "latest.txt");
  std::string path;
  if (!in || !std::getline(in, path) || path.empty()) return std::nullopt;
  return path;
}

std::vector<std::string> RunFolder::resume_candidates() const {
  std::vector<std::string> found;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(fs::path(dir_) / "save_models", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("checkpoint_", 0) == 0 && name.size() > 19 && name.substr(name.size() - 8) == ".pth.tar")
      found.push_back(entry.path().string());
  }
  // Zero-padded epochs, and '_' after '.': checkpoint_002_000120 (inside epoch 3) sorts between
  // checkpoint_002 and checkpoint_003. Newest first.
  std::sort(found.rbegin(), found.rend());
  std::vector<std::string> candidates;
  if (auto latest = latest_checkpoint()) candidates.push_back(*latest);
  for (auto& path : found)
    if (candidates.empty() || fs::path(path) != fs::path(candidates[0])) candidates.push_back(std::move(path));
  return candidates;
}

void RunFolder::set_latest(const std::string& path) const {
  runtime::write_file_atomically((fs::path(dir_) / "save_models" / "latest.txt").string(), path + "\n");
}

RunFolder run_folder_of_checkpoint(const std::string& checkpoint_path) {
  const auto folder = fs::path(checkpoint_path).parent_path();
  return RunFolder((folder.filename() == "save_models" ? folder.parent_path() : folder).string());
}

void write_flops(const std::string& path, const std::vector<nn::Cost>& costs) {
  std::ostringstream out;
  out << "exit\tmuladds\tparams\n";
  for (size_t k = 0; k < costs.size(); ++k) out << k + 1 << '\t' << costs[k].muladds << '\t' << costs[k].params << '\n';
  runtime::write_file_atomically(path, out.str());
}

std::vector<nn::Cost> read_flops(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(path + ": cannot open flops file");
  std::string header;
  std::getline(in, header);
  std::vector<nn::Cost> costs;
  int64_t exit;
  nn::Cost c;
  while (in >> exit >> c.muladds >> c.params) costs.push_back(c);
  return costs;
}

}  // namespace l2w::io
