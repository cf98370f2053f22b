#include "sdk/expr/lexer.hpp"

#include "sdk/base/json_read.hpp"

#include <boost/json/value.hpp>

#include <cstdio>
#include <limits>

namespace weir::sdk::expr {
namespace json = boost::json;

namespace {

bool fail(CompileError& err, std::size_t offset, std::string message, std::string hint = {}) {
  err.offset = offset;
  err.message = std::move(message);
  err.hint = std::move(hint);
  return false;
}

bool is_name_token(detail::Tok k) {
  using detail::Tok;
  return k == Tok::ident || k == Tok::kw_true || k == Tok::kw_false || k == Tok::kw_null || k == Tok::kw_in;
}

bool is_plain_name(std::string_view s) {
  if (s.empty() || (s[0] >= '0' && s[0] <= '9')) return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) {
      return false;
    }
  }
  return true;
}

bool is_keyword(std::string_view s) {
  return s == "true" || s == "false" || s == "null" || s == "in";
}

void append_quoted(std::string& out, std::string_view s) {
  out += '"';
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
      out += buf;
    } else {
      out += c;
    }
  }
  out += '"';
}

// Resolves a possibly negative index; false when out of range.
bool resolve_index(std::int64_t index, std::size_t size, std::size_t& out) {
  const auto n = static_cast<std::int64_t>(size);
  const std::int64_t i = index < 0 ? n + index : index;
  if (i < 0 || i >= n) return false;
  out = static_cast<std::size_t>(i);
  return true;
}

std::string prefix_text(const Path& path, std::size_t count) {
  std::vector<PathSegment> segments(path.segments().begin(),
                                    path.segments().begin() + static_cast<std::ptrdiff_t>(count));
  return Path(std::move(segments)).to_string();
}

}  // namespace

namespace detail {

bool parse_path_steps(const std::vector<Token>& toks, std::size_t& pos, std::string_view source,
                      std::vector<PathSegment>& out, CompileError& err) {
  while (true) {
    const Token& t = toks[pos];
    if (t.kind == Tok::dot) {
      const Token& name = toks[pos + 1];
      if (!is_name_token(name.kind)) {
        return fail(err, name.offset, "expected a field name after '.', found " + describe(name, source));
      }
      out.push_back({name.text, 0, false});
      pos += 2;
    } else if (t.kind == Tok::lbracket) {
      std::size_t at = pos + 1;
      const bool negative = toks[at].kind == Tok::minus;
      if (negative) ++at;
      const Token& index = toks[at];
      if (index.kind == Tok::integer) {
        constexpr auto max = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
        if (index.integer > max) return fail(err, index.offset, "index out of range");
        const auto v = static_cast<std::int64_t>(index.integer);
        out.push_back({{}, negative ? -v : v, true});
      } else if (index.kind == Tok::string && !negative) {
        out.push_back({index.text, 0, false});
      } else {
        return fail(err, index.offset,
                    "expected an integer or a string inside [ ], found " + describe(index, source));
      }
      const Token& close = toks[at + 1];
      if (close.kind != Tok::rbracket) {
        const std::string hint = "to close '[' at offset " + std::to_string(t.offset);
        if (close.kind == Tok::end) return fail(err, close.offset, "missing ']'", hint);
        return fail(err, close.offset, "expected ']', found " + describe(close, source), hint);
      }
      pos = at + 2;
    } else {
      return true;
    }
  }
}

}  // namespace detail

std::string Path::to_string() const {
  if (segments_.empty()) return "$";
  std::string out;
  for (std::size_t i = 0; i < segments_.size(); ++i) {
    const PathSegment& s = segments_[i];
    if (s.is_index) {
      out += '[' + std::to_string(s.index) + ']';
    } else if (is_plain_name(s.key) && (i > 0 || !is_keyword(s.key))) {
      if (i > 0) out += '.';
      out += s.key;
    } else {
      if (i == 0) out += '$';
      out += '[';
      append_quoted(out, s.key);
      out += ']';
    }
  }
  return out;
}

std::optional<Path> parse_path(std::string_view text, CompileError& err) {
  using detail::Tok;
  std::vector<detail::Token> toks;
  if (!detail::tokenize(text, toks, err)) return std::nullopt;
  std::size_t pos = 0;
  std::vector<PathSegment> segments;
  const detail::Token& first = toks[0];
  if (first.kind == Tok::end) {
    fail(err, 0, "empty path");
    return std::nullopt;
  }
  if (first.kind == Tok::dollar) {
    pos = 1;
  } else if (is_name_token(first.kind)) {
    segments.push_back({first.text, 0, false});
    pos = 1;
  } else if (first.kind != Tok::lbracket) {
    fail(err, first.offset, "expected a field name, found " + detail::describe(first, text));
    return std::nullopt;
  }
  if (!detail::parse_path_steps(toks, pos, text, segments, err)) return std::nullopt;
  if (toks[pos].kind != Tok::end) {
    fail(err, toks[pos].offset, "unexpected " + detail::describe(toks[pos], text) + " in path",
         "write fields as a.b, items[0] or a[\"odd key\"]");
    return std::nullopt;
  }
  return Path(std::move(segments));
}

const json::value* find_path(const json::value& root, const Path& path) {
  const json::value* cur = &root;
  for (const PathSegment& s : path.segments()) {
    if (s.is_index) {
      const json::array* a = cur->if_array();
      std::size_t i = 0;
      if (a == nullptr || !resolve_index(s.index, a->size(), i)) return nullptr;
      cur = &(*a)[i];
    } else {
      const json::object* o = cur->if_object();
      if (o == nullptr) return nullptr;
      cur = o->if_contains(s.key);
      if (cur == nullptr) return nullptr;
    }
  }
  return cur;
}

bool set_path(json::value& root, const Path& path, json::value v, EvalError& err) {
  const auto& segs = path.segments();
  // Checked before any change so that a failed set leaves the record as it was.
  const json::value* probe = &root;
  for (std::size_t i = 0; i < segs.size() && probe != nullptr; ++i) {
    const PathSegment& s = segs[i];
    auto where = [&] { return i == 0 ? std::string("the record") : "'" + prefix_text(path, i) + "'"; };
    if (s.is_index) {
      const json::array* a = probe->if_array();
      std::size_t k = 0;
      if (a == nullptr) {
        err = {0, "cannot set '" + path.to_string() + "': " + where() + " is " + sdk::kind_name(*probe) +
                      ", not an array"};
        return false;
      }
      if (!resolve_index(s.index, a->size(), k)) {
        err = {0, "cannot set '" + path.to_string() + "': index " + std::to_string(s.index) +
                      " is out of range for " + where() + " (" + std::to_string(a->size()) + " elements)"};
        return false;
      }
      probe = &(*a)[k];
    } else if (probe->is_null()) {
      probe = nullptr;  // replaced by a new object: the rest are created
    } else if (const json::object* o = probe->if_object()) {
      probe = o->if_contains(s.key);
    } else {
      err = {0, "cannot set '" + path.to_string() + "': " + where() + " is " + sdk::kind_name(*probe) +
                    ", not an object"};
      return false;
    }
    if (probe == nullptr) {
      for (std::size_t j = i + 1; j < segs.size(); ++j) {
        if (segs[j].is_index) {
          err = {0, "cannot set '" + path.to_string() + "': '" + prefix_text(path, j) +
                        "' does not exist, so it cannot be indexed"};
          return false;
        }
      }
    }
  }

  json::value* cur = &root;
  for (const PathSegment& s : segs) {
    if (s.is_index) {
      json::array& a = cur->as_array();
      std::size_t k = 0;
      resolve_index(s.index, a.size(), k);
      cur = &a[k];
    } else {
      if (cur->is_null()) cur->emplace_object();
      cur = &cur->as_object()[s.key];
    }
  }
  *cur = std::move(v);
  return true;
}

bool remove_path(json::value& root, const Path& path) {
  const auto& segs = path.segments();
  if (segs.empty()) return false;
  const Path parent_path(std::vector<PathSegment>(segs.begin(), segs.end() - 1));
  // find_path only reads; the parent belongs to the mutable `root`.
  auto* parent = const_cast<json::value*>(find_path(root, parent_path));
  if (parent == nullptr) return false;
  const PathSegment& last = segs.back();
  if (last.is_index) {
    json::array* a = parent->if_array();
    std::size_t k = 0;
    if (a == nullptr || !resolve_index(last.index, a->size(), k)) return false;
    a->erase(a->begin() + static_cast<std::ptrdiff_t>(k));
    return true;
  }
  json::object* o = parent->if_object();
  // stable_erase keeps the other keys in their order (erase moves the last key into the gap).
  return o != nullptr && o->stable_erase(last.key) > 0;
}

}  // namespace weir::sdk::expr
