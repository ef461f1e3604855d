// Files that are either wholly old or wholly new: a kill during a write never leaves a half-written
// checkpoint, scores table or thresholds file behind.
#pragma once

#include <string>

namespace l2w::io {

// Writes bytes to `path` atomically: to a temporary file beside it, synced, then renamed over `path`.
void write_file_atomically(const std::string& path, const std::string& bytes);

}  // namespace l2w::io
