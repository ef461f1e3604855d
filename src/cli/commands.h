// The subcommands of `l2w`; each returns the process exit code.
#pragma once

#include "command_support.h"

namespace l2w::cli {

int train_command(const Flags& flags);
int eval_command(const Flags& flags);
int flops_command(const Flags& flags);
int plot_command(const Flags& flags);
int compare_command(const Flags& flags);
int infer_command(const Flags& flags);
int bench_train_command(const Flags& flags);
int bench_infer_command(const Flags& flags);
int bench_data_command(const Flags& flags);
int launch_command(const Flags& flags);
int serve_command(const Flags& flags);
int bench_serve_command(const Flags& flags);

}  // namespace l2w::cli
