#include "metrics/process.hpp"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>

#include <cmath>
#include <ctime>

#include "support/prometheus_text.hpp"

using weir::metrics::add_process_metrics;
using weir::metrics::Exposition;
using weir::metrics::parse_proc_stat;
using weir::metrics::parse_proc_statm;
using weir::metrics::read_process_stats;

namespace {
// A real line from proc(5) layout: fields 14/15 utime/stime, 22 starttime, 23 vsize, 24 rss.
constexpr const char* stat_line =
    "1234 (weir) S 1 1234 1234 0 -1 4194560 2000 0 0 0 150 25 0 0 20 0 9 0 4321 123456789 "
    "2048 18446744073709551615 1 1 0 0 0 0 0 4096 17003 0 0 0 17 3 0 0 0 0 0\n";
}  // namespace

TEST_CASE("parse_proc_stat takes fields by position after the command name") {
  const auto s = parse_proc_stat(stat_line);
  REQUIRE(s);
  CHECK(s->utime_ticks == 150);
  CHECK(s->stime_ticks == 25);
  CHECK(s->start_ticks == 4321);
  CHECK(s->vsize_bytes == 123456789);
  CHECK(s->rss_pages == 2048);
}

TEST_CASE("parse_proc_stat copes with spaces and parentheses in the command name") {
  std::string line = stat_line;
  line.replace(line.find("(weir)"), 6, "(we ir) (x) 7)");
  const auto s = parse_proc_stat(line);
  REQUIRE(s);
  CHECK(s->utime_ticks == 150);
  CHECK(s->rss_pages == 2048);
}

TEST_CASE("parse_proc_stat rejects a truncated or garbled line") {
  CHECK_FALSE(parse_proc_stat(""));
  CHECK_FALSE(parse_proc_stat("1234 weir S 1"));
  CHECK_FALSE(parse_proc_stat("1234 (weir) S 1 1234 1234 0 -1 4194560 2000 0 0 0 150"));
  std::string line = stat_line;
  line.replace(line.find(" 150 "), 5, " x50 ");
  CHECK_FALSE(parse_proc_stat(line));
}

TEST_CASE("parse_proc_statm takes size and resident pages") {
  const auto m = parse_proc_statm("4711 1234 567 89 0 321 0\n");
  REQUIRE(m);
  CHECK(m->size_pages == 4711u);
  CHECK(m->resident_pages == 1234u);
  CHECK_FALSE(parse_proc_statm(""));
  CHECK_FALSE(parse_proc_statm("4711"));
  CHECK_FALSE(parse_proc_statm("4711 x12"));
}

TEST_CASE("read_process_stats reads this process") {
  const auto s = read_process_stats();
  REQUIRE(s.resident_memory_bytes);
  REQUIRE(s.virtual_memory_bytes);
  REQUIRE(s.cpu_seconds);
  REQUIRE(s.start_time_seconds);
  REQUIRE(s.open_fds);
  REQUIRE(s.max_fds);
  CHECK(*s.resident_memory_bytes > 0);
  CHECK(*s.virtual_memory_bytes >= *s.resident_memory_bytes);
  CHECK(*s.cpu_seconds >= 0);
  // Started before now and after 2020: a wrong tick or btime conversion is off by far more.
  CHECK(*s.start_time_seconds <= static_cast<double>(std::time(nullptr)) + 1);
  CHECK(*s.start_time_seconds > 1577836800.0);
  CHECK(*s.open_fds >= 3);  // at least what the test opens below is counted too
  CHECK(*s.max_fds >= static_cast<double>(*s.open_fds));

  const int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  REQUIRE(fd >= 0);
  const auto after = read_process_stats();
  ::close(fd);
  REQUIRE(after.open_fds);
  CHECK(*after.open_fds == *s.open_fds + 1);
}

TEST_CASE("process metrics use the standard names and parse strictly") {
  Exposition e;
  add_process_metrics(e);
  const auto r = weir::testing::parse_prometheus_text(e.str());
  INFO(e.str());
  CHECK_MESSAGE(r.ok(), r.error_text());
  for (const char* gauge : {"process_resident_memory_bytes", "process_virtual_memory_bytes",
                            "process_start_time_seconds", "process_open_fds", "process_max_fds"}) {
    const auto* f = r.family(gauge);
    REQUIRE_MESSAGE(f, gauge);
    CHECK(f->type == "gauge");
    CHECK(f->help);
    CHECK(r.value(gauge));
  }
  const auto* cpu = r.family("process_cpu_seconds_total");
  REQUIRE(cpu);
  CHECK(cpu->type == "counter");
  CHECK(*r.value("process_cpu_seconds_total") >= 0);
}

TEST_CASE("figures that could not be read are left out, not exported as zero") {
  weir::metrics::ProcessStats s;
  s.open_fds = 7;
  s.max_fds = std::numeric_limits<double>::infinity();
  Exposition e;
  add_process_metrics(e, s);
  CHECK(e.str() ==
        "# HELP process_open_fds Number of open file descriptors.\n"
        "# TYPE process_open_fds gauge\n"
        "process_open_fds 7\n"
        "# HELP process_max_fds Maximum number of open file descriptors.\n"
        "# TYPE process_max_fds gauge\n"
        "process_max_fds +Inf\n");
}
