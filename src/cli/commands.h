// The subcommands of `l2w`; each returns the process exit code.
#pragma once

#include "flags.h"

namespace l2w::cli {

int train_command(const Flags& flags);
int eval_command(const Flags& flags);
int flops_command(const Flags& flags);
int bench_command(const Flags& flags, const std::string& what);

// The network the flags describe, seeded by --seed.
models::MultiExitNetwork build_network(const Flags& flags, const models::NetworkOptions& options);

}  // namespace l2w::cli
