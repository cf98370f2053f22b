#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "sdk/spec.hpp"

namespace weir::components::sqlite_output {

// How a column's value is checked and stored, and its SQL type when create_table makes it.
enum class ColumnType { any, integer, real, text, json };

enum class Synchronous { full, normal };

struct Column {
  std::string name;      // required
  sdk::Expression expr;  // required: evaluated on each record
  ColumnType type = ColumnType::any;

  static sdk::ObjectSpec<Column> object_spec();
};

struct Config {
  std::string path;             // required; relative to the engine's data dir
  std::string table;            // required
  std::vector<Column> columns;  // required, not empty
  std::string id_column = "record_id";
  bool create_table = false;
  Synchronous synchronous = Synchronous::full;
  std::chrono::nanoseconds busy_timeout = std::chrono::seconds(3);
  int lock_retries = 2;
  sdk::ByteSize max_size{0};  // 0: as large as the disk allows
};

sdk::ComponentSpec<Config> spec();

}  // namespace weir::components::sqlite_output
