// The schema of weir.db as an ordered list of steps. A step is never edited once released: a
// change is a new step. Each one runs in its own transaction and sets PRAGMA user_version.
#pragma once

#include <span>

namespace weir::store {

struct Migration {
  int version;      // 1, 2, 3... without gaps: the user_version after this step
  const char* sql;  // one or more statements
};

std::span<const Migration> migrations();

}  // namespace weir::store
