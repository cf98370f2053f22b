// What a bridge receiver has stored, per sender source: the highest stream position of a batch
// stored from it. A batch at or below it is a replay (the sender never got the ack) and is not
// stored again, however long the link was down: JetStream's duplicate window alone only covers
// minutes. Kept in a small file so a restarted receiver still knows.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>

namespace weir::ws {

class Positions {
 public:
  // Loads `file` when it exists; false with `error` when it cannot be read or created.
  bool open(const std::filesystem::path& file, std::string& error);
  ~Positions();

  std::uint64_t get(const std::string& source) const;
  // Records a stored position and writes the file (before the ack goes out). A failed write is
  // logged by the caller; the duplicate window still covers a quick replay.
  bool advance(const std::string& source, std::uint64_t position);

 private:
  bool write();
  int fd_ = -1;
  std::map<std::string, std::uint64_t> positions_;
};

}  // namespace weir::ws
