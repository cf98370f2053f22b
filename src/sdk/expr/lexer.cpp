#include "sdk/expr/lexer.hpp"
#include "sdk/base/utf8.hpp"

#include <charconv>
#include <cstdio>

namespace weir::sdk::expr::detail {
namespace {

bool is_ident_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_ident_char(char c) {
  return is_ident_start(c) || is_digit(c);
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool fail(CompileError& err, std::size_t offset, std::string message, std::string hint = {}) {
  err.offset = offset;
  err.message = std::move(message);
  err.hint = std::move(hint);
  return false;
}

class Lexer {
 public:
  Lexer(std::string_view src, std::vector<Token>& out, CompileError& err) : src_(src), out_(out), err_(err) {}

  bool run() {
    while (true) {
      while (pos_ < src_.size() &&
             (src_[pos_] == ' ' || src_[pos_] == '\t' || src_[pos_] == '\n' || src_[pos_] == '\r')) {
        ++pos_;
      }
      if (pos_ == src_.size()) {
        push(Tok::end, pos_, 0);
        return true;
      }
      if (!next()) return false;
    }
  }

 private:
  Token& push(Tok kind, std::size_t offset, std::size_t length) {
    Token& t = out_.emplace_back();
    t.kind = kind;
    t.offset = offset;
    t.length = length;
    return t;
  }

  char peek(std::size_t ahead = 0) const { return pos_ + ahead < src_.size() ? src_[pos_ + ahead] : '\0'; }

  bool op(Tok kind, std::size_t length) {
    push(kind, pos_, length);
    pos_ += length;
    return true;
  }

  bool next() {
    const char c = src_[pos_];
    if (is_ident_start(c)) return identifier();
    if (is_digit(c)) return number();
    switch (c) {
      case '"':
      case '\'':
        return string(c);
      case '$':
        return op(Tok::dollar, 1);
      case '(':
        return op(Tok::lparen, 1);
      case ')':
        return op(Tok::rparen, 1);
      case '[':
        return op(Tok::lbracket, 1);
      case ']':
        return op(Tok::rbracket, 1);
      case ',':
        return op(Tok::comma, 1);
      case '.':
        return op(Tok::dot, 1);
      case '+':
        return op(Tok::plus, 1);
      case '-':
        return op(Tok::minus, 1);
      case '*':
        return op(Tok::star, 1);
      case '/':
        return op(Tok::slash, 1);
      case '%':
        return op(Tok::percent, 1);
      case '<':
        return peek(1) == '=' ? op(Tok::le, 2) : op(Tok::lt, 1);
      case '>':
        return peek(1) == '=' ? op(Tok::ge, 2) : op(Tok::gt, 1);
      case '!':
        return peek(1) == '=' ? op(Tok::ne, 2) : op(Tok::not_, 1);
      case '=':
        if (peek(1) == '=') return op(Tok::eq, 2);
        return fail(err_, pos_, "unexpected character '='", "use '==' to compare");
      case '&':
        if (peek(1) == '&') return op(Tok::and_, 2);
        return fail(err_, pos_, "unexpected character '&'", "use '&&'");
      case '|':
        if (peek(1) == '|') return op(Tok::or_, 2);
        return fail(err_, pos_, "unexpected character '|'", "use '||'");
      default:
        break;
    }
    if (static_cast<unsigned char>(c) >= 0x80) {
      return fail(err_, pos_, "unexpected non-ASCII character",
                  "quote field names that are not plain identifiers: $[\"name\"]");
    }
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) {
      char buf[48];
      std::snprintf(buf, sizeof buf, "unexpected control character 0x%02X",
                    static_cast<unsigned>(static_cast<unsigned char>(c)));
      return fail(err_, pos_, buf);
    }
    return fail(err_, pos_, std::string("unexpected character '") + c + "'");
  }

  bool identifier() {
    const std::size_t start = pos_;
    while (pos_ < src_.size() && is_ident_char(src_[pos_])) ++pos_;
    const std::string_view word = src_.substr(start, pos_ - start);
    Tok kind = Tok::ident;
    if (word == "true")
      kind = Tok::kw_true;
    else if (word == "false")
      kind = Tok::kw_false;
    else if (word == "null")
      kind = Tok::kw_null;
    else if (word == "in")
      kind = Tok::kw_in;
    push(kind, start, word.size()).text = word;
    return true;
  }

  bool number() {
    const std::size_t start = pos_;
    bool is_real = false;
    while (is_digit(peek())) ++pos_;
    if (peek() == '.' && is_digit(peek(1))) {
      is_real = true;
      pos_ += 1;
      while (is_digit(peek())) ++pos_;
    }
    if (peek() == 'e' || peek() == 'E') {
      std::size_t p = 1;
      if (peek(p) == '+' || peek(p) == '-') ++p;
      if (!is_digit(peek(p))) return fail(err_, start, "invalid number: missing exponent digits");
      is_real = true;
      pos_ += p;
      while (is_digit(peek())) ++pos_;
    }
    if (is_ident_char(peek())) return fail(err_, start, "invalid number");
    const char* first = src_.data() + start;
    const char* last = src_.data() + pos_;
    Token& t = push(is_real ? Tok::real : Tok::integer, start, pos_ - start);
    const auto r = is_real ? std::from_chars(first, last, t.real) : std::from_chars(first, last, t.integer);
    if (r.ec != std::errc()) {
      return fail(err_, start, is_real ? "number out of range" : "integer literal out of range");
    }
    return true;
  }

  bool string(char quote) {
    const std::size_t start = pos_;
    std::string text;
    ++pos_;
    while (true) {
      if (pos_ >= src_.size()) return fail(err_, start, "unterminated string");
      const char c = src_[pos_];
      if (c == quote) break;
      if (c != '\\') {
        text += c;
        ++pos_;
        continue;
      }
      const std::size_t esc = pos_;
      const char e = peek(1);
      pos_ += 2;
      switch (e) {
        case '"':
          text += '"';
          break;
        case '\'':
          text += '\'';
          break;
        case '\\':
          text += '\\';
          break;
        case '/':
          text += '/';
          break;
        case 'b':
          text += '\b';
          break;
        case 'f':
          text += '\f';
          break;
        case 'n':
          text += '\n';
          break;
        case 'r':
          text += '\r';
          break;
        case 't':
          text += '\t';
          break;
        case 'u':
          if (!unicode_escape(esc, text)) return false;
          break;
        case '\0':
          if (esc + 1 >= src_.size()) return fail(err_, start, "unterminated string");
          [[fallthrough]];
        default:
          return fail(err_, esc, std::string("invalid escape '\\") + e + "'",
                      "valid escapes: \\\" \\' \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX");
      }
    }
    ++pos_;
    push(Tok::string, start, pos_ - start).text = std::move(text);
    return true;
  }

  // pos_ is just past "\u"; JSON spells characters outside the BMP as a surrogate pair.
  bool unicode_escape(std::size_t esc, std::string& text) {
    std::uint32_t cp = 0;
    if (!hex4(cp)) return fail(err_, esc, "invalid \\u escape: expected 4 hex digits");
    if (cp >= 0xDC00 && cp <= 0xDFFF) return fail(err_, esc, "invalid \\u escape: lone surrogate");
    if (cp >= 0xD800 && cp <= 0xDBFF) {
      std::uint32_t low = 0;
      if (peek() != '\\' || peek(1) != 'u') {
        return fail(err_, esc, "invalid \\u escape: lone surrogate");
      }
      pos_ += 2;
      if (!hex4(low) || low < 0xDC00 || low > 0xDFFF) {
        return fail(err_, esc, "invalid \\u escape: lone surrogate");
      }
      cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
    }
    sdk::append_utf8(text, cp);
    return true;
  }

  bool hex4(std::uint32_t& out) {
    for (int k = 0; k < 4; ++k) {
      const int h = hex_value(peek());
      if (h < 0) return false;
      out = out * 16 + static_cast<std::uint32_t>(h);
      ++pos_;
    }
    return true;
  }

  std::string_view src_;
  std::vector<Token>& out_;
  CompileError& err_;
  std::size_t pos_ = 0;
};

}  // namespace

bool tokenize(std::string_view source, std::vector<Token>& out, CompileError& err) {
  out.clear();
  return Lexer(source, out, err).run();
}

std::string describe(const Token& t, std::string_view source) {
  const std::string text(source.substr(t.offset, t.length));
  switch (t.kind) {
    case Tok::end:
      return "end of expression";
    case Tok::ident:
      return "identifier '" + text + "'";
    case Tok::integer:
    case Tok::real:
      return "number " + text;
    case Tok::string:
      return "string " + text;
    default:
      return "'" + text + "'";
  }
}

}  // namespace weir::sdk::expr::detail
