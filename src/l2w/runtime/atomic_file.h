// Files that are either wholly old or wholly new: a kill during a write never leaves a half-written
// checkpoint, scores table, thresholds file or any other file l2w writes behind. Every file l2w writes
// goes through here (the server's access log apart: a log, appended and flushed a line at a time).
#pragma once

#include <string>

namespace l2w::runtime {

// Writes bytes to `path` atomically: to a temporary file beside it, synced, then renamed over `path`.
// std::runtime_error naming the path when it cannot, the previous file left as it was.
void write_file_atomically(const std::string& path, const std::string& bytes);
// Appends `bytes` to the file (created when missing) the same way: the old file with them, or the old.
void append_file_atomically(const std::string& path, const std::string& bytes);

}  // namespace l2w::runtime
