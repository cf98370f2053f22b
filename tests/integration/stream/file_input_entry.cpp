// Stream suite entry: file_input → file_output. Producers append NDJSON lines to a log file (one
// write per call, under a lock, as a logger does); file_input follows it, exactly once into the
// flow by file and offset (components/file_input/README.md), and file_output is exactly once by
// position: the consumer reads every line of the output file. disrupt() rotates the log file,
// alternately by rename and by copy-truncate, and cuts the engine's NATS link; away() stalls
// that link (the engine's whole bus gone): file_output has no external side to take away.
#include <doctest/doctest.h>

#include <cstdio>
#include <filesystem>
#include <mutex>

#include "stream_suite.hpp"

namespace weir::testing::stream {

namespace {

class FileInputStream : public OneEngine {
 public:
  FileInputStream() : OneEngine("stream") {
    std::filesystem::create_directories(log_dir());
    proxy_ = std::make_unique<TcpProxy>("127.0.0.1", static_cast<std::uint16_t>(rig_.server().port()));
    rig_.route_engine_through(proxy_->port());
    rig_.write_flow("stream.json", R"({"version": 1, "name": "stream", "settings": {"ack_wait": "2s"},
      "components": [
        {"id": "in", "type": "file_input", "config": {"paths": [")" +
                                       log_dir() + R"(/app.log*"], "start_at": "beginning",
          "poll_interval": "50ms", "rotate_wait": "2s"}},
        {"id": "sink", "type": "file_output", "inputs": ["in"], "config": {"path": ")" +
                                       rig_.dir() + R"(/out.ndjson"}}]})");
  }

  void produce(std::uint64_t from, std::uint64_t to, std::size_t pad) override {
    const std::string padding = pad > 0 ? R"(,"pad":")" + std::string(pad, 'x') + "\"" : "";
    std::string text;
    for (auto n = from; n < to; ++n) text += R"({"n":)" + std::to_string(n) + padding + "}\n";
    std::lock_guard lock(mu_);
    append(text);
  }
  std::vector<std::int64_t> consumed() override { return read_numbers(rig_.dir() + "/out.ndjson"); }
  void disrupt() override {
    {
      std::lock_guard lock(mu_);
      const auto rotated = log() + "." + std::to_string(++rotations_);
      if (rotations_ % 2 == 1) {
        std::filesystem::rename(log(), rotated);
      } else {
        std::filesystem::copy_file(log(), rotated);
        std::filesystem::resize_file(log(), 0);
      }
    }
    proxy_->cut();
  }
  void away(bool gone) override { proxy_->set_stalled(gone); }
  std::string figures() override { return std::to_string(rotations_) + " rotations"; }
  std::string logs() override { return rig_.engine_log(); }

 private:
  std::string log_dir() const { return rig_.dir() + "/logs"; }
  std::string log() const { return log_dir() + "/app.log"; }
  void append(const std::string& text) {
    std::FILE* f = std::fopen(log().c_str(), "a");
    REQUIRE(f != nullptr);
    REQUIRE(std::fwrite(text.data(), 1, text.size(), f) == text.size());
    std::fclose(f);
  }

  std::mutex mu_;
  int rotations_ = 0;
  std::unique_ptr<TcpProxy> proxy_;
};

}  // namespace

std::vector<Entry> stream_entries() {
  Traits t;
  t.name = "file_input";
  t.guarantee = Guarantee::exactly_once;
  t.disruption = "log file rotated (rename, then copy-truncate) and the engine's NATS link cut (TcpProxy)";
  t.away = "engine's NATS link stalled (TcpProxy)";
  return {{t, [] { return std::make_unique<FileInputStream>(); }}};
}

}  // namespace weir::testing::stream
