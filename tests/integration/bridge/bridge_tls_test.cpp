// The bridge over wss: a certificate made by the test with openssl, server verification by the
// connecting site, and mutual TLS refusing a site without a client certificate.
#include <doctest/doctest.h>

#include <cstdlib>
#include <thread>

#include "support/nats_harness.hpp"
#include "two_sites.hpp"

using namespace weir::testing;
using namespace std::chrono_literals;

namespace {

// A CA, a server certificate for localhost / 127.0.0.1 and a client certificate, all signed by the CA.
struct Certs {
  TempDir dir{"weir-certs"};
  std::string file(const std::string& name) const { return dir.file(name); }
  Certs() {
    const std::string d = dir.path();
    const std::string script =
        "set -e; cd '" + d +
        "'; exec >openssl.log 2>&1\n"
        "openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 -subj "
        "/CN=weir-test-ca\n"
        "openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=localhost\n"
        "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > server.ext\n"
        "openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 2 "
        "-extfile server.ext\n"
        "openssl req -newkey rsa:2048 -nodes -keyout client.key -out client.csr -subj /CN=site-a\n"
        "openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out client.crt -days 2\n";
    REQUIRE_MESSAGE(std::system(("bash -c \"" + escape(script) + "\"").c_str()) == 0,
                    "openssl failed; see " << d << "/openssl.log");
  }
  static std::string escape(const std::string& s) {
    std::string out;
    for (char c : s) {
      if (c == '"' || c == '\\' || c == '$' || c == '`') out.push_back('\\');
      out.push_back(c);
    }
    return out;
  }
};

std::string tls_json(std::initializer_list<std::pair<const char*, std::string>> items) {
  std::string out = "{";
  for (const auto& [k, v] : items)
    out += std::string(out.size() > 1 ? ", " : "") + "\"" + k + "\": \"" + v + "\"";
  return out + "}";
}

}  // namespace

TEST_CASE("bridge over wss: the site verifies the hub's certificate; records arrive exactly once") {
  Certs certs;
  LinkOptions o;
  o.hub_tls = tls_json({{"cert", certs.file("server.crt")}, {"key", certs.file("server.key")}});
  o.site_a_tls = tls_json({{"ca", certs.file("ca.crt")}});
  TwoSites sites(o);
  sites.site_a().publish_source(0, 5000);
  sites.start();
  const auto got = sites.hub().wait_out(5000, 120s);
  REQUIRE_MESSAGE(got == 5000, sites.logs());
  sites.check_exactly_once(5000);
}

TEST_CASE("bridge over wss: a site that does not trust the hub's certificate sends nothing") {
  Certs certs, other;
  LinkOptions o;
  o.hub_tls = tls_json({{"cert", certs.file("server.crt")}, {"key", certs.file("server.key")}});
  o.site_a_tls = tls_json({{"ca", other.file("ca.crt")}});  // a different CA
  TwoSites sites(o);
  sites.site_a().publish_source(0, 100);
  sites.start();
  CHECK(wait_until([&] { return sites.site_a().engine_log().find("cannot reach") != std::string::npos; }, 30s,
                   100ms));
  std::this_thread::sleep_for(2s);
  CHECK_MESSAGE(sites.hub().out_count() == 0, sites.logs());
}

TEST_CASE(
    "bridge with mutual TLS: a site without a client certificate is refused, one with it gets through") {
  Certs certs;
  LinkOptions o;
  o.hub_tls = tls_json(
      {{"cert", certs.file("server.crt")}, {"key", certs.file("server.key")}, {"ca", certs.file("ca.crt")}});
  o.site_a_tls = tls_json({{"ca", certs.file("ca.crt")}});
  {
    TwoSites sites(o);
    sites.site_a().publish_source(0, 100);
    sites.start();
    CHECK(wait_until([&] { return sites.site_a().engine_log().find("cannot reach") != std::string::npos; },
                     30s, 100ms));
    std::this_thread::sleep_for(2s);
    CHECK_MESSAGE(sites.hub().out_count() == 0, sites.logs());
  }
  o.site_a_tls = tls_json(
      {{"ca", certs.file("ca.crt")}, {"cert", certs.file("client.crt")}, {"key", certs.file("client.key")}});
  TwoSites sites(o);
  sites.site_a().publish_source(0, 100);
  sites.start();
  const auto got = sites.hub().wait_out(100, 60s);
  REQUIRE_MESSAGE(got == 100, sites.logs());
  sites.check_exactly_once(100);
}
