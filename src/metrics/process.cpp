#include "metrics/process.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <limits>
#include <string>

namespace weir::metrics {
namespace {

// /proc files report size 0, so read until EOF rather than trusting stat().
std::optional<std::string> read_file(const char* path) {
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::string out;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ::close(fd);
      if (n < 0) return std::nullopt;
      return out;
    }
    out.append(buf, static_cast<std::size_t>(n));
  }
}

bool parse_u64(std::string_view s, std::uint64_t& out) {
  const auto r = std::from_chars(s.data(), s.data() + s.size(), out);
  return r.ec == std::errc{} && r.ptr == s.data() + s.size();
}

// "btime <unix seconds>" in /proc/stat.
std::optional<std::uint64_t> boot_time() {
  const auto text = read_file("/proc/stat");
  if (!text) return std::nullopt;
  std::string_view rest = *text;
  while (!rest.empty()) {
    const auto eol = rest.find('\n');
    const std::string_view line = rest.substr(0, eol);
    rest = eol == std::string_view::npos ? std::string_view{} : rest.substr(eol + 1);
    if (line.starts_with("btime ")) {
      std::uint64_t v = 0;
      if (parse_u64(line.substr(6), v)) return v;
      return std::nullopt;
    }
  }
  return std::nullopt;
}

std::optional<std::uint64_t> count_open_fds() {
  DIR* dir = ::opendir("/proc/self/fd");
  if (!dir) return std::nullopt;
  const int own = ::dirfd(dir);
  std::uint64_t n = 0;
  // readdir is safe on a DIR nobody else holds (glibc; readdir_r is the deprecated one).
  while (const dirent* e = ::readdir(dir)) {  // NOLINT(concurrency-mt-unsafe)
    std::uint64_t fd = 0;
    // Skips "." and "..", and the descriptor this very listing holds open.
    if (parse_u64(e->d_name, fd) && fd != static_cast<std::uint64_t>(own)) ++n;
  }
  ::closedir(dir);
  return n;
}

std::optional<double> max_fds() {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return std::nullopt;
  if (rl.rlim_cur == RLIM_INFINITY) return std::numeric_limits<double>::infinity();
  return static_cast<double>(rl.rlim_cur);
}

}  // namespace

std::optional<ProcStat> parse_proc_stat(std::string_view line) {
  // "pid (comm) state ppid ...": comm is free text, so fields start after the LAST ')'.
  const auto close = line.rfind(')');
  if (close == std::string_view::npos) return std::nullopt;
  std::string_view rest = line.substr(close + 1);
  // Field numbers as in proc(5): state is 3, utime 14, stime 15, starttime 22, vsize 23, rss 24.
  std::uint64_t fields[25] = {};
  for (int field = 3; field <= 24; ++field) {
    while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\n')) rest.remove_prefix(1);
    const auto end = rest.find_first_of(" \n");
    const std::string_view token = rest.substr(0, end);
    if (token.empty()) return std::nullopt;
    // state (a letter) and signed fields we ignore are skipped; the ones we use are unsigned.
    const bool used = field == 14 || field == 15 || field == 22 || field == 23 || field == 24;
    if (used && !parse_u64(token, fields[field])) return std::nullopt;
    rest.remove_prefix(token.size());
  }
  return ProcStat{fields[14], fields[15], fields[22], fields[23], fields[24]};
}

std::optional<ProcStatm> parse_proc_statm(std::string_view line) {
  ProcStatm out;
  std::uint64_t* fields[] = {&out.size_pages, &out.resident_pages};
  for (auto* f : fields) {
    while (!line.empty() && line.front() == ' ') line.remove_prefix(1);
    const auto end = line.find_first_of(" \n");
    if (!parse_u64(line.substr(0, end), *f)) return std::nullopt;
    line.remove_prefix(end == std::string_view::npos ? line.size() : end);
  }
  return out;
}

ProcessStats read_process_stats() {
  ProcessStats s;
  const long ticks = ::sysconf(_SC_CLK_TCK);
  const long page = ::sysconf(_SC_PAGESIZE);
  const auto text = read_file("/proc/self/stat");
  const auto stat = text ? parse_proc_stat(*text) : std::nullopt;
  const auto statm_text = read_file("/proc/self/statm");
  const auto statm = statm_text ? parse_proc_statm(*statm_text) : std::nullopt;
  if (statm && page > 0) {
    s.virtual_memory_bytes = statm->size_pages * static_cast<std::uint64_t>(page);
    s.resident_memory_bytes = statm->resident_pages * static_cast<std::uint64_t>(page);
  }
  if (stat) {
    if (!statm) {
      s.virtual_memory_bytes = stat->vsize_bytes;
      if (page > 0) s.resident_memory_bytes = stat->rss_pages * static_cast<std::uint64_t>(page);
    }
    if (ticks > 0) {
      s.cpu_seconds = static_cast<double>(stat->utime_ticks + stat->stime_ticks) / static_cast<double>(ticks);
      if (const auto boot = boot_time()) {
        s.start_time_seconds =
            static_cast<double>(*boot) + static_cast<double>(stat->start_ticks) / static_cast<double>(ticks);
      }
    }
  }
  s.open_fds = count_open_fds();
  s.max_fds = max_fds();
  return s;
}

void add_process_metrics(Exposition& out, const ProcessStats& s) {
  const auto gauge = [&](std::string_view name, std::string_view help, auto value) {
    if (value) out.add(name, Type::gauge, help, {}, static_cast<double>(*value));
  };
  if (s.cpu_seconds) {
    out.add("process_cpu_seconds_total", Type::counter, "Total user and system CPU time spent in seconds.",
            {}, *s.cpu_seconds);
  }
  gauge("process_open_fds", "Number of open file descriptors.", s.open_fds);
  gauge("process_max_fds", "Maximum number of open file descriptors.", s.max_fds);
  gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.", s.virtual_memory_bytes);
  gauge("process_resident_memory_bytes", "Resident memory size in bytes.", s.resident_memory_bytes);
  gauge("process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
        s.start_time_seconds);
}

void add_process_metrics(Exposition& out) {
  add_process_metrics(out, read_process_stats());
}

}  // namespace weir::metrics
