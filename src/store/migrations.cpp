#include "store/migrations.hpp"

namespace weir::store {

namespace {

// Revisions are few and read by flow, newest first: (flow, rev) is the key. The source is not
// constrained here so that a new source needs no table rebuild; Store::record checks it.
constexpr Migration all[] = {
    {1,
     "CREATE TABLE flow_revisions ("
     "  flow TEXT NOT NULL,"
     "  rev INTEGER NOT NULL CHECK (rev > 0),"
     "  hash TEXT NOT NULL,"
     "  source TEXT NOT NULL,"
     "  file TEXT NOT NULL,"
     "  deployed_at_ms INTEGER NOT NULL,"
     "  text TEXT NOT NULL,"
     "  PRIMARY KEY (flow, rev)"
     ");"},
};

}  // namespace

std::span<const Migration> migrations() {
  return all;
}

}  // namespace weir::store
