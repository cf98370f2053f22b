#include "common/websocket/positions.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace weir::ws {

bool Positions::open(const std::filesystem::path& file, std::string& error) {
  std::error_code ec;
  std::filesystem::create_directories(file.parent_path(), ec);
  {
    std::ifstream in(file);
    std::string source;
    std::uint64_t position = 0;
    while (in >> source >> position) positions_[source] = position;
  }
  fd_ = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) {
    error = "cannot open " + file.string() + ": " + std::strerror(errno);
    return false;
  }
  return true;
}

Positions::~Positions() {
  if (fd_ >= 0) ::close(fd_);
}

std::uint64_t Positions::get(const std::string& source) const {
  auto it = positions_.find(source);
  return it == positions_.end() ? 0 : it->second;
}

bool Positions::advance(const std::string& source, std::uint64_t position) {
  auto& p = positions_[source];
  if (position <= p) return true;
  p = position;
  return write();
}

bool Positions::write() {
  if (fd_ < 0) return false;
  std::ostringstream out;
  for (const auto& [source, position] : positions_) out << source << ' ' << position << '\n';
  const std::string text = out.str();
  // One write at offset 0: the file is a few lines, so a process crash never leaves it half
  // written. (A power loss may lose the last update, as it may lose JetStream's last writes.)
  if (::pwrite(fd_, text.data(), text.size(), 0) != static_cast<ssize_t>(text.size())) return false;
  return ::ftruncate(fd_, static_cast<off_t>(text.size())) == 0;
}

}  // namespace weir::ws
