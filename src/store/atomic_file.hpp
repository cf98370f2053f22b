// Replacing a file so that a reader (or a crash) sees either the old or the new content, never a
// mix: flow files written by the HTTP API and by `weir flows rollback`, which the engine's hot
// reload may read at any moment.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace weir::store {

enum class Sync {
  yes,  // through a power cut: the new file and the rename are fsynced
  no,   // through a crash of the process only (the operating system's cache): no fsync
};

// Writes `text` to a temporary file in the same directory (a hidden name that does not end in
// .json, so the flow loader skips it), fsyncs it, renames it over `path` and fsyncs the
// directory (the fsyncs only with Sync::yes). An existing file keeps its permission bits; a new
// one gets 0666 minus the umask. On failure returns false with a one-line reason in *error, and
// leaves no temporary file.
bool write_file_atomically(const std::filesystem::path& path, std::string_view text, std::string* error,
                           Sync sync = Sync::yes);

}  // namespace weir::store
