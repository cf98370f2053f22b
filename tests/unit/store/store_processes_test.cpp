// Two processes (the engine and the CLI, say) writing one weir.db at once. POSIX file locks
// belong to a process, so only separate processes show that WAL and the busy timeout hold up.
#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <set>

#include "store/store.hpp"
#include "support/nats_harness.hpp"

using namespace weir::store;

namespace {

constexpr int per_process = 60;

// The child never returns into doctest: its exit code is the number of failed records.
[[noreturn]] void child(const std::string& file, const std::string& tag) {
  int failed = 0;
  auto s = Store::open(file);
  if (!s) {
    std::fprintf(stderr, "child %s: %s\n", tag.c_str(), s.error().c_str());
    ::_exit(100);
  }
  for (int i = 0; i < per_process; ++i) {
    // Alternating flows: each record reads the latest revision and writes after it.
    const std::string flow = i % 2 ? "odd" : "even";
    if (!s->record(flow, tag + std::to_string(i), "file", flow + ".json", "{}")) ++failed;
  }
  ::_exit(failed);
}

}  // namespace

TEST_CASE("two processes create, migrate and write the same new database") {
  weir::testing::TempDir tmp;
  const std::string file = tmp.file("weir.db");
  pid_t pids[2];
  const char* tags[] = {"p", "q"};
  for (int i = 0; i < 2; ++i) {
    pids[i] = ::fork();
    REQUIRE(pids[i] >= 0);
    if (pids[i] == 0) child(file, tags[i]);
  }
  for (pid_t pid : pids) {
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
  }

  auto s = Store::open(file);
  REQUIRE(s.ok());
  for (const char* flow : {"even", "odd"}) {
    auto h = s->history(flow);
    REQUIRE(h.ok());
    REQUIRE(h->size() == per_process);  // half of each process's records
    std::set<std::string> hashes;
    for (std::size_t i = 0; i < h->size(); ++i) {
      CHECK((*h)[i].rev == static_cast<int>(h->size() - i));
      hashes.insert((*h)[i].hash);
    }
    CHECK(hashes.size() == h->size());
  }
}
