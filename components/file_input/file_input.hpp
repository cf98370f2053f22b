#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "sdk/spec.hpp"

namespace weir::components::file_input {

enum class Format { json, text };
enum class StartAt { beginning, end };
enum class Durability { stored, sync };

struct Config {
  std::vector<std::string> paths;    // required: glob patterns; relative ones are in the data dir
  std::vector<std::string> exclude;  // fnmatch patterns on the full path
  StartAt start_at = StartAt::end;
  Format format = Format::json;
  std::string path_field;       // empty: the file's path is not put in the record
  std::string multiline_start;  // empty: one record per line (text only)
  std::chrono::nanoseconds multiline_timeout = std::chrono::seconds(1);
  int multiline_max_lines = 500;
  sdk::ByteSize max_line{1024 * 1024};
  std::chrono::nanoseconds poll_interval = std::chrono::milliseconds(250);
  std::chrono::nanoseconds rotate_wait = std::chrono::seconds(5);
  Durability durability = Durability::stored;
};

sdk::ComponentSpec<Config> spec();

}  // namespace weir::components::file_input
