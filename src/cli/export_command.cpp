// `l2w export`: a trained network as ONNX graphs (docs/python.md, "ONNX export"). The command checks the
// checkpoint against the architecture flags and reads the data set's image shape, mean and deviation;
// the graphs are written by the Python package's exporter (torch's ONNX exporter is Python), which it
// runs as `PYTHON -m l2w export` with the Python l2w was built against (L2W_PYTHON overrides it).
#include <spawn.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>

#include "commands.h"
#include "run_flags.h"

extern char** environ;

namespace l2w::cli {
namespace {

struct ExportFlags {
  RunFlags common;
  std::string output;
  std::string thresholds;
};

std::string joined(const std::vector<float>& values) {
  std::string text;
  for (const float v : values) text += (text.empty() ? "" : ",") + options::number_text(v);
  return text;
}

// Runs `argv` and returns its exit status; the child shares this process's output streams.
int run_and_wait(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  if (posix_spawnp(&pid, args[0], nullptr, nullptr, args.data(), environ) != 0)
    throw std::runtime_error("export: cannot run " + argv[0] + " (set L2W_PYTHON to a Python with l2w installed)");
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

int run_export(const ExportFlags& flags) {
  const auto& common = flags.common;
  if (std::filesystem::exists(flags.output)) throw FlagError("--output: " + flags.output + " already exists (export writes a new folder)");
  const auto data = dataset::load_data(common.model.data);
  const auto geometry = data_geometry(common.model, data);
  const auto options = network_options(common.model, geometry);
  load_trained_network(common, options);  // the checkpoint fits the flags' architecture, or one clear line
  const char* python = std::getenv("L2W_PYTHON");
  const auto shape = data.test->image_shape();
  std::vector<std::string> argv{python != nullptr ? python : L2W_BUILD_PYTHON, "-m", "l2w", "export",
                                "--checkpoint", common.evaluate_from, "--description", models::describe(options),
                                "--output", flags.output, "--image-shape",
                                std::to_string(shape[0]) + "," + std::to_string(shape[1]) + "," + std::to_string(shape[2]),
                                "--mean", joined(data.test->mean), "--std", joined(data.test->std)};
  if (!flags.thresholds.empty()) argv.insert(argv.end(), {"--thresholds", flags.thresholds});
  return run_and_wait(argv);
}

}  // namespace

Subcommand add_export_command(CLI::App& parent) {
  auto flags = std::make_shared<ExportFlags>();
  auto* app = parent.add_subcommand("export", "a trained network as ONNX: the whole network, each stage, a manifest");
  add_model_flags(*app, flags->common.model);
  add_checkpoint_flag(*app, flags->common);
  app->add_option("--output,-o", flags->output, "the folder to write (it must not exist)")->required();
  app->add_option("--thresholds", flags->thresholds, "a thresholds file (from eval --budget) to record in the manifest");
  return {app, [flags] { return run_export(*flags); }};
}

}  // namespace l2w::cli
