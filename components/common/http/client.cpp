#include "common/http/client.hpp"

#include <openssl/evp.h>
#include <openssl/ssl.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/url/parse.hpp>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <list>
#include <map>

#include "common/websocket/tls_context.hpp"

namespace weir::httpc {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using boost::system::error_code;

std::string Target::origin() const {
  return std::string(tls ? "https://" : "http://") +
         (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::optional<std::string> parse_url(std::string_view url, Target& out) {
  auto u = boost::urls::parse_uri(url);
  if (!u) return "not a URL (" + u.error().message() + "); e.g. http://collector:8080/ingest";
  const std::string scheme(u->scheme());
  if (scheme == "http")
    out.tls = false;
  else if (scheme == "https")
    out.tls = true;
  else
    return "scheme \"" + scheme + "\" is not http:// or https://";
  if (!u->has_authority() || u->host().empty()) return "no host in the URL";
  if (u->has_userinfo()) return "credentials do not go in the URL: use `authorization`";
  if (u->has_fragment()) return "a request URL has no fragment";
  out.host = u->host_type() == boost::urls::host_type::ipv6 ? std::string(u->host_ipv6_address().to_string())
                                                            : std::string(u->encoded_host());
  if (u->has_port()) {
    if (u->port_number() == 0) return "port must be 1-65535";
    out.port = u->port_number();
  } else {
    out.port = out.tls ? 443 : 80;
  }
  out.path = std::string(u->encoded_path());
  if (out.path.empty()) out.path = "/";
  if (u->has_query()) out.path += "?" + std::string(u->encoded_query());
  return std::nullopt;
}

namespace {

struct Conn {
  explicit Conn(asio::io_context& io) : sock(io) {}
  std::string origin;
  tcp::socket sock;                               // plain connections
  std::unique_ptr<ssl::stream<tcp::socket>> tls;  // TLS connections (the socket moved in)
  boost::beast::flat_buffer buffer;
  tcp::socket& lowest() { return tls ? tls->next_layer() : sock; }
  template <class F>
  void with(F&& f) {
    if (tls)
      f(*tls);
    else
      f(sock);
  }
};

std::string ms_text(std::chrono::milliseconds d) {
  return std::to_string(d.count()) + " ms";
}

}  // namespace

struct Client::Impl {
  explicit Impl(const Options& o, std::atomic<std::uint64_t>& connects) : options(o), connects(connects) {}
  const Options& options;
  std::atomic<std::uint64_t>& connects;
  asio::io_context io;
  std::atomic<bool> cancelled{false};
  std::map<std::string, ws::detail::SslContextPtr> contexts;  // per host: it verifies that name
  std::list<std::unique_ptr<Conn>> conns;                     // most recently used first

  // Runs the io_context until `done`; at the deadline or on cancel() the socket is closed (which
  // ends the operation) and false is returned.
  template <class Close>
  bool wait(const bool& done, Clock::time_point deadline, Close close) {
    io.restart();
    while (!done) {
      if (cancelled.load() || Clock::now() >= deadline) {
        close();
        io.restart();
        io.run();  // the aborted handlers
        return false;
      }
      io.run_one_until(std::min(deadline, Clock::now() + std::chrono::milliseconds(50)));
    }
    return true;
  }

  void drop(Conn* c) {
    conns.remove_if([c](const auto& p) { return p.get() == c; });
  }

  Conn* find(const std::string& origin) {
    for (auto it = conns.begin(); it != conns.end(); ++it)
      if ((*it)->origin == origin) {
        conns.splice(conns.begin(), conns, it);
        return conns.front().get();
      }
    return nullptr;
  }

  Conn* connect(const Target& t, std::string& error) {
    const auto deadline = Clock::now() + options.connect_timeout;
    auto c = std::make_unique<Conn>(io);
    c->origin = t.origin();
    const std::string where = t.host + ":" + std::to_string(t.port);
    error_code ec;
    bool done = false;
    auto on_done = [&](error_code e, auto&&...) {
      ec = e;
      done = true;
    };
    // Waits for one step; false with `error` set when it timed out, was cancelled or failed.
    auto step = [&](const char* what, auto close) {
      if (!wait(done, deadline, close)) {
        error = where + ": " +
                (cancelled ? "cancelled"
                           : std::string(what) + " timed out after " + ms_text(options.connect_timeout));
        return false;
      }
      done = false;
      if (!ec) return true;
      const std::string why = c->tls ? ws::detail::handshake_failure(c->tls->native_handle()) : "";
      error = where + ": " + (c->tls ? "TLS handshake: " : "") + (why.empty() ? ec.message() : why);
      return false;
    };
    tcp::resolver resolver(io);
    tcp::resolver::results_type endpoints;
    resolver.async_resolve(t.host, std::to_string(t.port), [&](error_code e, tcp::resolver::results_type r) {
      endpoints = std::move(r);
      on_done(e);
    });
    if (!step("name lookup", [&] { resolver.cancel(); })) return nullptr;
    asio::async_connect(c->sock, endpoints, on_done);
    if (!step("connect", [&] { c->sock.close(ec); })) return nullptr;
    c->sock.set_option(tcp::no_delay(true), ec);
    if (t.tls) {
      auto& ctx = contexts[t.host];
      if (!ctx) {
        ctx = ws::detail::make_client_context(options.tls, t.host, error);
        if (!ctx) return nullptr;
      }
      c->tls = std::make_unique<ssl::stream<tcp::socket>>(std::move(c->sock), *ctx);
      error_code ignored;
      (void)asio::ip::make_address(t.host, ignored);
      if (ignored)  // not an address: SNI carries names only
        SSL_set_tlsext_host_name(c->tls->native_handle(), t.host.c_str());
      c->tls->async_handshake(ssl::stream_base::client, on_done);
      if (!step("TLS handshake", [&] { c->lowest().close(ignored); })) return nullptr;
    }
    connects.fetch_add(1);
    while (conns.size() >= std::max<std::size_t>(options.max_connections, 1)) conns.pop_back();
    conns.push_front(std::move(c));
    return conns.front().get();
  }

  // One attempt on `c`. `stale` is set when the connection failed before any byte of a response
  // came (a kept-alive connection the server had closed meanwhile).
  Response attempt(Conn& c, const Request& req, bool& stale) {
    Response r;
    stale = false;
    bhttp::request<bhttp::string_body> m;
    m.method_string(req.method);
    m.target(req.target.path);
    m.version(11);
    const bool default_port = req.target.port == (req.target.tls ? 443 : 80);
    const std::string host =
        req.target.host.find(':') != std::string::npos ? "[" + req.target.host + "]" : req.target.host;
    m.set(bhttp::field::host, default_port ? host : host + ":" + std::to_string(req.target.port));
    m.set(bhttp::field::user_agent, "weir");
    for (const auto& [name, value] : req.headers) m.set(name, value);
    m.body() = req.body;
    m.keep_alive(true);
    m.prepare_payload();
    const auto deadline = Clock::now() + options.request_timeout;
    error_code ec;
    bool done = false;
    auto close = [&] {
      error_code ignored;
      c.lowest().close(ignored);
    };
    c.with([&](auto& s) {
      bhttp::async_write(s, m, [&](error_code e, std::size_t) {
        ec = e;
        done = true;
      });
    });
    if (!wait(done, deadline, close)) {
      r.error =
          cancelled ? "cancelled" : "timed out writing the request after " + ms_text(options.request_timeout);
      return r;
    }
    if (ec) {
      stale = true;
      r.error = "writing the request: " + ec.message();
      return r;
    }
    r.sent = true;
    // Informational 1xx responses (100 Continue, 103 Early Hints) may come before the final one
    // (RFC 9110 15.2): each is read and passed over, within the same deadline.
    std::optional<bhttp::response_parser<bhttp::string_body>> p;
    bool informational = false;
    for (;;) {
      p.emplace();
      p->body_limit(options.max_response);
      p->header_limit(64 * 1024);
      done = false;
      c.with([&](auto& s) {
        bhttp::async_read(s, c.buffer, *p, [&](error_code e, std::size_t) {
          ec = e;
          done = true;
        });
      });
      if (!wait(done, deadline, close)) {
        r.error = cancelled ? "cancelled" : "no response within " + ms_text(options.request_timeout);
        return r;
      }
      if (ec) break;
      const unsigned code = p->get().result_int();
      if (code < 100 || code >= 200 || code == 101) break;
      informational = true;
    }
    const bool too_long = ec == bhttp::error::body_limit && p->is_header_done();
    if (ec && !too_long) {
      stale = !informational && !p->got_some();
      r.error = "reading the response: " + ec.message();
      return r;
    }
    auto& res = p->get();
    r.status = res.result_int();
    r.body_head = res.body().substr(0, options.max_body_head);
    r.retry_after = std::string(res[bhttp::field::retry_after]);
    if (too_long || !res.keep_alive()) drop(&c);
    return r;
  }
};

Client::Client(Options options)
    : options_(std::move(options)), impl_(std::make_unique<Impl>(options_, connects_)) {}

Client::~Client() = default;

void Client::cancel() {
  impl_->cancelled = true;
}

Response Client::exchange(const Request& req) {
  Response r;
  if (impl_->cancelled) {
    r.error = "cancelled";
    return r;
  }
  const std::string origin = req.target.origin();
  // A kept-alive connection the server closed meanwhile fails before any answer: the request
  // goes once more on a new connection (it carries its Idempotency-Key, so a server that took
  // it after all stores it once).
  for (int round = 0; round < 2; ++round) {
    Conn* c = impl_->find(origin);
    const bool reused = c != nullptr;
    if (!c) {
      c = impl_->connect(req.target, r.error);
      if (!c) return r;
    }
    bool stale = false;
    r = impl_->attempt(*c, req, stale);
    r.reused = reused;
    if (r.status == 0) impl_->drop(c);
    if (r.status != 0 || !reused || !stale || impl_->cancelled) return r;
  }
  return r;
}

std::optional<std::chrono::seconds> parse_retry_after(std::string_view value,
                                                      std::chrono::system_clock::time_point now) {
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  if (value.empty()) return std::nullopt;
  if (std::all_of(value.begin(), value.end(),
                  [](char ch) { return std::isdigit(static_cast<unsigned char>(ch)); })) {
    if (value.size() > 9) return std::chrono::seconds(999'999'999);
    return std::chrono::seconds(std::stoll(std::string(value)));
  }
  const std::string text(value);
  for (const char* format :
       {"%a, %d %b %Y %H:%M:%S GMT", "%A, %d-%b-%y %H:%M:%S GMT", "%a %b %d %H:%M:%S %Y"}) {
    std::tm tm{};
    const char* end = ::strptime(text.c_str(), format, &tm);
    if (end == nullptr || *end != '\0') continue;
    const auto at = std::chrono::system_clock::from_time_t(::timegm(&tm));
    if (at <= now) return std::chrono::seconds(0);
    return std::chrono::ceil<std::chrono::seconds>(at - now);
  }
  return std::nullopt;
}

std::string sha256_hex(const std::vector<std::string_view>& parts) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  for (auto part : parts) {
    const std::string len = std::to_string(part.size()) + ":";
    EVP_DigestUpdate(ctx, len.data(), len.size());
    EVP_DigestUpdate(ctx, part.data(), part.size());
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_DigestFinal_ex(ctx, digest, &n);
  EVP_MD_CTX_free(ctx);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < n; ++i) {
    out += hex[digest[i] >> 4];
    out += hex[digest[i] & 0xf];
  }
  return out;
}

}  // namespace weir::httpc
