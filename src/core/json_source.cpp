#include "core/json_source.hpp"

#include <algorithm>
#include <boost/json/stream_parser.hpp>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "core/json_scan.hpp"

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

std::string read_file(const std::filesystem::path& path, std::string* error) {
  std::error_code dir_ec;
  if (std::filesystem::is_directory(path, dir_ec)) {
    if (error) *error = "cannot read " + path.string() + ": it is a directory";
    return {};
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (error) *error = "cannot open " + path.string() + ": " + std::strerror(errno);
    return {};
  }
  std::ostringstream buf;
  buf << in.rdbuf();
  if (in.bad()) {
    if (error) *error = "cannot read " + path.string() + ": " + std::strerror(errno);
    return {};
  }
  return std::move(buf).str();
}

}  // namespace weir::core
