// Process figures under the names every Prometheus client library exports (process_*), so the
// usual dashboards and alerts work on weir unchanged. Linux only: read from /proc/self.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "metrics/exposition.hpp"

namespace weir::metrics {

// Each figure is empty when its source could not be read (no /proc in a minimal container,
// a seccomp profile...): the others are still worth exporting.
struct ProcessStats {
  std::optional<std::uint64_t> resident_memory_bytes;
  std::optional<std::uint64_t> virtual_memory_bytes;
  std::optional<double> cpu_seconds;         // user + system
  std::optional<double> start_time_seconds;  // unix time
  std::optional<std::uint64_t> open_fds;
  std::optional<double> max_fds;  // soft RLIMIT_NOFILE; +Inf when unlimited
};

// Fields of /proc/<pid>/stat that we use, in clock ticks and pages as the kernel gives them.
struct ProcStat {
  std::uint64_t utime_ticks = 0;
  std::uint64_t stime_ticks = 0;
  std::uint64_t start_ticks = 0;  // since boot
  std::uint64_t vsize_bytes = 0;
  std::uint64_t rss_pages = 0;
};

// Parses the one line of /proc/<pid>/stat; the command name may hold spaces and parentheses.
std::optional<ProcStat> parse_proc_stat(std::string_view line);

// The first two fields of /proc/<pid>/statm: total program size and resident set, in pages.
// Memory is read from statm rather than stat: qemu-user (the cross builds' tests) fills stat's
// memory fields with 0 but passes statm through, so there it reports the emulator's process.
struct ProcStatm {
  std::uint64_t size_pages = 0;
  std::uint64_t resident_pages = 0;
};
std::optional<ProcStatm> parse_proc_statm(std::string_view line);

ProcessStats read_process_stats();

// process_resident_memory_bytes, process_virtual_memory_bytes, process_start_time_seconds,
// process_open_fds, process_max_fds (gauges) and process_cpu_seconds_total (counter).
void add_process_metrics(Exposition& out, const ProcessStats& stats);
void add_process_metrics(Exposition& out);

}  // namespace weir::metrics
