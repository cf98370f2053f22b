#pragma once

#include <chrono>
#include <string>

#include "sdk/spec.hpp"

namespace weir::components::file_output {

enum class Fsync { always, batch, interval };

struct Config {
  std::string path;  // required; relative to the engine's data dir
  Fsync fsync = Fsync::batch;
  std::chrono::nanoseconds fsync_interval = std::chrono::seconds(1);
  sdk::ByteSize max_size{64ULL * 1024 * 1024};  // 0: no rotation
  int max_files = 5;
};

sdk::ComponentSpec<Config> spec();

}  // namespace weir::components::file_output
