// sqlite_output against a raw SQLite insert loop, side by side in one run: for each synchronous
// setting and batch size, N records written through the component's write() (expressions,
// type checks, one transaction per batch, the record id as the key) and through a hand-written
// loop over the same parsed records (one prepared INSERT ... ON CONFLICT DO NOTHING, the same
// table, transaction size, WAL and synchronous setting). Prints rows/s of both and their ratio,
// one JSON line at the end (medians of --rounds, each round's figures beside them). Run: `ninja -C build
// bench-sqlite`.
#include <sqlite3.h>
#include <boost/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include "bench_util.hpp"
#include "registry/registry.hpp"
#include "sdk/base/json_write.hpp"
#include "sdk/spec.hpp"

namespace fs = std::filesystem;
using namespace weir;
using Clock = std::chrono::steady_clock;

namespace {

constexpr const char* who = "sqlite_bench";

const char* table_sql =
    "CREATE TABLE IF NOT EXISTS readings (record_id TEXT NOT NULL PRIMARY KEY, seq INTEGER, sensor TEXT, "
    "site TEXT, value REAL)";

void check(sqlite3* db, int rc, const char* what) {
  if (rc != SQLITE_OK && rc != SQLITE_DONE) bench::die(who, std::string(what) + ": " + sqlite3_errmsg(db));
}

long long count_rows(const fs::path& file) {
  sqlite3* db = nullptr;
  check(db, sqlite3_open(file.c_str(), &db), "open");
  sqlite3_stmt* st = nullptr;
  check(db, sqlite3_prepare_v2(db, "SELECT count(DISTINCT seq) FROM readings", -1, &st, nullptr), "count");
  long long n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
  sqlite3_finalize(st);
  sqlite3_close_v2(db);
  return n;
}

void remove_db(const fs::path& file) {
  for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(file.string() + suffix);
}

// The reference: what a program writing these rows by hand does.
double raw_loop(const fs::path& file, const std::vector<sdk::Record>& records, std::size_t batch, bool full) {
  remove_db(file);
  sqlite3* db = nullptr;
  check(db, sqlite3_open(file.c_str(), &db), "open");
  sqlite3_busy_timeout(db, 5000);
  check(db, sqlite3_exec(db, "PRAGMA journal_mode = WAL", nullptr, nullptr, nullptr), "wal");
  check(db,
        sqlite3_exec(db, full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL", nullptr, nullptr,
                     nullptr),
        "synchronous");
  check(db, sqlite3_exec(db, table_sql, nullptr, nullptr, nullptr), "create");
  sqlite3_stmt* ins = nullptr;
  check(db,
        sqlite3_prepare_v2(
            db,
            "INSERT INTO readings (record_id, seq, sensor, site, value) VALUES (?1, ?2, ?3, ?4, ?5) "
            "ON CONFLICT (record_id) DO NOTHING",
            -1, &ins, nullptr),
        "prepare");
  const auto t0 = Clock::now();
  for (std::size_t i = 0; i < records.size(); i += batch) {
    check(db, sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), "begin");
    for (std::size_t j = i; j < std::min(records.size(), i + batch); ++j) {
      const auto& r = records[j];
      const auto& o = r.value.get_object();
      const auto& sensor = o.at("sensor").get_string();
      const auto& site = o.at("site").get_string();
      sqlite3_bind_text(ins, 1, r.id.data(), static_cast<int>(r.id.size()), SQLITE_STATIC);
      sqlite3_bind_int64(ins, 2, o.at("seq").to_number<std::int64_t>());
      sqlite3_bind_text(ins, 3, sensor.data(), static_cast<int>(sensor.size()), SQLITE_STATIC);
      sqlite3_bind_text(ins, 4, site.data(), static_cast<int>(site.size()), SQLITE_STATIC);
      sqlite3_bind_double(ins, 5, o.at("value").to_number<double>());
      check(db, sqlite3_step(ins), "insert");
      sqlite3_reset(ins);
    }
    check(db, sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr), "commit");
  }
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  sqlite3_finalize(ins);
  sqlite3_close_v2(db);
  return secs;
}

double component(const fs::path& dir, const std::vector<sdk::Record>& records, std::size_t batch, bool full) {
  const fs::path file = dir / "component.db";
  remove_db(file);
  const auto* info = registry::builtins().find("sqlite_output");
  if (!info) bench::die(who, "sqlite_output is not registered");
  const auto config = boost::json::parse(std::string(R"({"path": "component.db", "table": "readings",
      "create_table": true, "synchronous": ")") +
                                         (full ? "full" : "normal") + R"(", "columns": [
      {"name": "seq", "expr": "seq", "type": "integer"}, {"name": "sensor", "expr": "sensor", "type": "text"},
      {"name": "site", "expr": "site", "type": "text"}, {"name": "value", "expr": "value", "type": "real"}]})");
  sdk::Diagnostics diags;
  auto parsed = info->parse(&config, diags, "/config");
  if (!parsed) bench::die(who, "config: " + (diags.items().empty() ? "" : sdk::format(diags.items()[0])));
  sdk::Context ctx{"bench", "db", sdk::Log("bench", "db"), nullptr, dir};
  auto comp = info->create(parsed.get(), ctx);
  auto* out = dynamic_cast<sdk::Output*>(comp.get());
  if (auto st = out->start(); !st) bench::die(who, "start: " + st.error());
  const auto t0 = Clock::now();
  for (std::size_t i = 0; i < records.size(); i += batch) {
    sdk::Rejects rejects;
    const std::span<const sdk::Record> span(records.data() + i, std::min(batch, records.size() - i));
    if (auto st = out->write(span, rejects); !st) bench::die(who, "write: " + st.error());
    if (!rejects.items.empty()) bench::die(who, "rejected: " + rejects.items[0].second);
  }
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  out->stop();
  return secs;
}

double median(std::vector<double> xs) {
  std::sort(xs.begin(), xs.end());
  return xs[xs.size() / 2];
}

std::vector<std::size_t> parse_sizes(const std::string& text) {
  std::vector<std::size_t> out;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) {
    try {
      out.push_back(std::stoul(item));
    } catch (...) {
      bench::die(who, "--batches: not a number: " + item);
    }
    if (out.back() == 0) bench::die(who, "--batches: a batch holds at least one record");
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::uint64_t records_n = 100000, full_max_commits = 2000, rounds = 3;
  std::string batches_text = "1,10,100,1000", dir_text, only;
  bench::Args args(who,
                   "sqlite_bench [--records N] [--batches 1,10,100,1000] [--full-max-commits C] [--rounds R] "
                   "[--dir DIR] [--only full|normal]");
  args.add("--records", records_n)
      .add("--batches", batches_text)
      .add("--full-max-commits", full_max_commits)
      .add("--rounds", rounds)
      .add("--dir", dir_text)
      .add("--only", only);
  args.parse(argc, argv);
  spdlog::set_level(spdlog::level::warn);  // the component's start lines would mix with the result
  const auto batches = parse_sizes(batches_text);
  if (rounds == 0) bench::die(who, "--rounds: at least 1");
  // Give a --dir on the disk the flows would use when /tmp is a tmpfs: synced commits are measured.
  const fs::path dir = dir_text.empty() ? bench::scratch_dir("weir-sqlite-bench", who) : fs::path(dir_text);
  fs::create_directories(dir);

  std::vector<sdk::Record> all;
  all.reserve(records_n);
  for (std::uint64_t i = 0; i < records_n; ++i)
    all.push_back({"SRC:" + std::to_string(i + 1) + "/src/out/0", boost::json::parse(bench::record(i))});

  boost::json::array runs;
  for (const bool full : {false, true}) {
    if ((only == "full" && !full) || (only == "normal" && full)) continue;
    for (const auto batch : batches) {
      // A synced commit costs milliseconds here: at small batches FULL runs at most C commits.
      const std::size_t n = full ? std::min<std::size_t>(all.size(), batch * full_max_commits) : all.size();
      const std::vector<sdk::Record> records(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(n));
      // Rounds alternate the two (raw first, then the component), so that the machine's noise hits
      // both alike; the medians are compared.
      std::vector<double> raw_rates, comp_rates;
      for (std::uint64_t round = 0; round < rounds; ++round) {
        const double raw_secs = raw_loop(dir / "raw.db", records, batch, full);
        if (count_rows(dir / "raw.db") != static_cast<long long>(n)) bench::die(who, "raw: rows missing");
        const double comp_secs = component(dir, records, batch, full);
        if (count_rows(dir / "component.db") != static_cast<long long>(n))
          bench::die(who, "component: rows missing");
        raw_rates.push_back(static_cast<double>(n) / raw_secs);
        comp_rates.push_back(static_cast<double>(n) / comp_secs);
        std::fprintf(stderr,
                     "synchronous %-6s batch %5zu  %6zu records: component %9.0f rows/s, raw %9.0f rows/s, "
                     "ratio %.3f\n",
                     full ? "full" : "normal", batch, n, comp_rates.back(), raw_rates.back(),
                     comp_rates.back() / raw_rates.back());
      }
      boost::json::array each;
      for (std::size_t r = 0; r < raw_rates.size(); ++r)
        each.push_back({static_cast<std::int64_t>(comp_rates[r]), static_cast<std::int64_t>(raw_rates[r])});
      const double raw_rate = median(raw_rates), comp_rate = median(comp_rates);
      runs.push_back({{"synchronous", full ? "full" : "normal"},
                      {"batch", batch},
                      {"records", n},
                      {"component_rows_per_s", static_cast<std::int64_t>(comp_rate)},
                      {"raw_rows_per_s", static_cast<std::int64_t>(raw_rate)},
                      {"ratio", std::round(comp_rate / raw_rate * 1000) / 1000},
                      {"rounds_component_raw", std::move(each)}});
    }
  }
  if (dir_text.empty()) fs::remove_all(dir);
  boost::json::object result{{"bench", "sqlite_output"},
                             {"records", records_n},
                             {"full_max_commits", full_max_commits},
                             {"rounds", rounds},
                             {"sqlite_version", sqlite3_libversion()},
                             {"runs", std::move(runs)}};
  std::printf("%s\n", sdk::to_json(result).c_str());
  return 0;
}
