#include "bus/status.hpp"

#include <doctest/doctest.h>

#include <string>

using weir::bus::from_nats;
using weir::bus::Result;
using weir::bus::Status;

TEST_CASE("a default Status is ok and carries no text") {
  const Status s;
  CHECK(s.ok());
  CHECK(static_cast<bool>(s));
  CHECK(s.text().empty());
  CHECK(s.code() == NATS_OK);
}

TEST_CASE("from_nats keeps the status text, the context and the JetStream code") {
  const Status s = from_nats(NATS_TIMEOUT, "fetch WEIR_A/x", JSConsumerNotFoundErr);
  CHECK_FALSE(s.ok());
  CHECK(s.is_timeout());
  CHECK(s.is_not_found());
  CHECK(s.js_code() == 10014);
  CHECK(s.text().find("fetch WEIR_A/x") == 0);
  CHECK(s.text().find(natsStatus_GetText(NATS_TIMEOUT)) != std::string::npos);
  CHECK(s.text().find("10014") != std::string::npos);
}

TEST_CASE("from_nats adds the detailed error of the failing call, without nats.c's source location") {
  natsOptions* opts = nullptr;
  REQUIRE(natsOptions_Create(&opts) == NATS_OK);
  const natsStatus rc = natsOptions_LoadCATrustedCertificates(opts, "/nonexistent-weir/ca.pem");
  const Status s = from_nats(rc, "tls");
  natsOptions_Destroy(opts);
  REQUIRE_FALSE(s.ok());
  CHECK(s.text().rfind("tls: ", 0) == 0);
  CHECK(s.text().find("/nonexistent-weir/ca.pem") != std::string::npos);
  CHECK(s.text().find("opts.c:") == std::string::npos);
}

TEST_CASE("from_nats ignores a stale thread-local error of another status") {
  natsOptions* opts = nullptr;
  REQUIRE(natsOptions_Create(&opts) == NATS_OK);
  (void)natsOptions_LoadCATrustedCertificates(opts, "/nonexistent-weir/ca.pem");  // leaves SSL error text
  natsOptions_Destroy(opts);
  const Status s = from_nats(NATS_TIMEOUT, "fetch");
  CHECK(s.text() == std::string("fetch: ") + natsStatus_GetText(NATS_TIMEOUT));
}

TEST_CASE("from_nats of NATS_OK is success") {
  CHECK(from_nats(NATS_OK, "anything").ok());
}

TEST_CASE("Status::context prefixes errors and leaves success alone") {
  Status e = Status::error("boom");
  e.context("ensure_stream S");
  CHECK(e.text() == "ensure_stream S: boom");
  Status ok;
  ok.context("ignored");
  CHECK(ok.text().empty());
}

TEST_CASE("Result holds a value or an error") {
  Result<int> good = 42;
  REQUIRE(good.ok());
  CHECK(*good == 42);
  Result<int> bad = Status::error("nope");
  CHECK_FALSE(bad.ok());
  CHECK(bad.status().text() == "nope");
  Result<int> misuse = Status{};  // a success Status without a value is turned into an error
  CHECK_FALSE(misuse.ok());
}
