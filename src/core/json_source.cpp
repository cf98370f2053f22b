#include "core/json_source.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <algorithm>
#include <boost/json/stream_parser.hpp>

#include <cerrno>
#include <cstdint>
#include <cstring>

#include "core/json_scan.hpp"
#include "core/unique_fd.hpp"

namespace weir::core {

struct SourceMapBuilder {
  static void init(SourceMap& m, std::string_view text) {
    m.text_.assign(text);
    m.start_ = text.substr(0, 3) == "\xEF\xBB\xBF" ? 3 : 0;
    m.line_starts_.push_back(m.start_);
    for (std::size_t i = m.start_; i < text.size(); ++i)
      if (text[i] == '\n') m.line_starts_.push_back(i + 1);
  }
  static std::size_t start(const SourceMap& m) { return m.start_; }
  static const std::string& text(const SourceMap& m) { return m.text_; }
  static detail::EntryMap& entries(SourceMap& m) { return m.entries_; }
};

namespace {

sdk::Diagnostic make_diagnostic(const SourceMap& map, std::string code, std::string pointer,
                                std::string message, std::string hint, std::size_t offset) {
  sdk::Diagnostic d;
  d.code = std::move(code);
  d.pointer = std::move(pointer);
  d.message = std::move(message);
  d.hint = std::move(hint);
  const Position p = map.position_at(offset);
  d.line = p.line;
  d.column = p.column;
  return d;
}

}  // namespace

ParsedJson parse_json_source(std::string_view text) {
  ParsedJson out;
  SourceMapBuilder::init(out.map, text);
  const std::size_t start = SourceMapBuilder::start(out.map);
  const std::string_view body = text.substr(start);

  boost::json::parse_options options;
  options.max_depth = 64;
  boost::json::stream_parser parser({}, options);
  boost::system::error_code ec;
  std::size_t consumed = parser.write(body.data(), body.size(), ec);
  bool incomplete = false;
  if (!ec) {
    parser.finish(ec);
    incomplete = static_cast<bool>(ec);
    if (incomplete) consumed = body.size();
  }
  if (ec) {
    const bool extra = ec == boost::json::error::extra_data;
    detail::SyntaxProblem problem;
    if (ec == boost::json::error::too_deep) {
      problem = {start + consumed, "", "nesting deeper than 64 levels", ""};
    } else {
      problem = detail::describe_syntax_error(text, start, start + consumed, incomplete, extra);
    }
    out.diagnostics.add(make_diagnostic(out.map, "json_syntax", std::move(problem.pointer),
                                        std::move(problem.message), std::move(problem.hint), problem.offset));
    return out;
  }
  out.value = parser.release();
  out.ok = true;

  std::vector<detail::ScanIssue> issues;
  detail::scan_json(SourceMapBuilder::text(out.map), start, SourceMapBuilder::entries(out.map), issues);
  for (auto& issue : issues)
    out.diagnostics.add(make_diagnostic(out.map, std::move(issue.code), std::move(issue.pointer),
                                        std::move(issue.message), std::move(issue.hint), issue.offset));
  return out;
}

Position SourceMap::position_at(std::size_t offset) const {
  if (line_starts_.empty()) return {};
  offset = std::min(offset, text_.size());
  const auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), offset);
  const std::size_t line = static_cast<std::size_t>(it - line_starts_.begin());  // >= 1
  const std::size_t line_start = line_starts_[line - 1];
  const std::size_t col = offset < line_start ? 0 : detail::count_chars(text_, line_start, offset);
  return {static_cast<int>(line), static_cast<int>(col + 1)};
}

const detail::ScanEntry* SourceMap::find_nearest(std::string_view pointer) const {
  while (true) {
    const auto it = entries_.find(pointer);
    if (it != entries_.end()) return &it->second;
    if (pointer.empty()) return nullptr;
    pointer = pointer.substr(0, pointer.rfind('/') == std::string_view::npos ? 0 : pointer.rfind('/'));
  }
}

bool SourceMap::contains(std::string_view pointer) const {
  return entries_.find(pointer) != entries_.end();
}

Position SourceMap::value_position(std::string_view pointer) const {
  const detail::ScanEntry* e = find_nearest(pointer);
  return e ? position_at(e->value) : Position{};
}

Position SourceMap::key_position(std::string_view pointer) const {
  const auto it = entries_.find(pointer);
  if (it != entries_.end() && it->second.key != detail::no_key) return position_at(it->second.key);
  return value_position(pointer);
}

void SourceMap::locate(sdk::Diagnostic& d, std::string_view file) const {
  d.file.assign(file);
  if (d.line > 0 || entries_.empty()) return;
  Position p = d.code == "unknown_field" ? key_position(d.pointer) : value_position(d.pointer);
  if (d.offset >= 0) {
    const auto it = entries_.find(d.pointer);
    if (it != entries_.end() && it->second.value < text_.size() && text_[it->second.value] == '"') {
      const std::size_t cols =
          detail::string_columns(text_, it->second.value, static_cast<std::size_t>(d.offset));
      p.column += 1 + static_cast<int>(cols);
    }
  }
  d.line = p.line;
  d.column = p.column;
}

void SourceMap::locate(sdk::Diagnostics& ds, std::string_view file) const {
  for (auto& d : ds.items()) locate(d, file);
}

std::string read_file(const std::filesystem::path& path, std::string* error, std::size_t max_bytes,
                      bool* too_large) {
  auto fail = [&](std::string why) {
    if (error) *error = "cannot read " + path.string() + ": " + std::move(why);
    return std::string();
  };
  // open(2) rather than a stream: a symlink loop or a directory is an errno here, never an
  // exception, and fstat gives the size before anything is read.
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return fail(std::strerror(errno));
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return fail(std::strerror(errno));
  if (S_ISDIR(st.st_mode)) return fail("it is a directory");
  auto refuse = [&](std::uint64_t size) {
    if (too_large) *too_large = true;
    return fail(std::to_string(size) + " bytes, more than the limit of " + std::to_string(max_bytes));
  };
  if (S_ISREG(st.st_mode) && static_cast<std::uint64_t>(st.st_size) > max_bytes)
    return refuse(static_cast<std::uint64_t>(st.st_size));
  std::string out;
  if (S_ISREG(st.st_mode)) out.reserve(static_cast<std::size_t>(st.st_size));
  char buf[64 * 1024];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail(std::strerror(errno));
    if (n == 0) break;
    // A file that grows while read, or a pipe, is bounded too.
    if (out.size() + static_cast<std::size_t>(n) > max_bytes)
      return refuse(out.size() + static_cast<std::size_t>(n));
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

}  // namespace weir::core
