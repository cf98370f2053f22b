#include "common/websocket/tls_context.hpp"

#include <openssl/ssl.h>

#include <boost/asio/ssl/host_name_verification.hpp>

namespace weir::ws::detail {
namespace {

namespace ssl = boost::asio::ssl;

// The first failure seen on a connection is kept in its SSL object (ex data), so it lives and
// dies with the connection and needs no table keyed by connection.
void free_note(void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) {
  delete static_cast<std::string*>(ptr);
}

int note_index() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, free_note);
  return index;
}

void note(const SSL* ssl, const std::string& what) {
  if (ssl == nullptr || note_index() < 0) return;
  if (SSL_get_ex_data(ssl, note_index()) != nullptr) return;  // the first cause is the one
  SSL_set_ex_data(const_cast<SSL*>(ssl), note_index(), new std::string(what));
}

void note_alert(const SSL* ssl, int where, int ret) {
  if ((where & SSL_CB_ALERT) == 0 || SSL_alert_type_string(ret)[0] != 'F') return;  // fatal only
  std::string desc = SSL_alert_desc_string_long(ret);
  if (desc == "unknown") {
    // OpenSSL 3.0 has no text for TLS 1.3's certificate_required (116), the mutual TLS refusal.
    desc = (ret & 0xff) == 116 ? "certificate required" : "alert " + std::to_string(ret & 0xff);
  }
  note(ssl, ((where & SSL_CB_READ) != 0 ? "peer sent TLS alert: " : "sent TLS alert: ") + desc);
}

// Notes why a certificate was refused; `ok` is the verdict, passed through.
bool note_verify(bool ok, ssl::verify_context& vctx, const std::string& host) {
  if (ok) return true;
  X509_STORE_CTX* store = vctx.native_handle();
  auto* ssl = static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  int err = X509_STORE_CTX_get_error(store);
  note(ssl, err != X509_V_OK ? std::string("certificate: ") + X509_verify_cert_error_string(err)
                             : "certificate does not match " + host);
  return false;
}

// No SSLv2/3, TLS 1.0/1.1: the minimum protocol is set too, the option bits alone do not cover
// versions OpenSSL adds later.
bool harden(ssl::context& ctx, std::string& error) {
  ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                  ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::single_dh_use);
  if (SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION) != 1) {
    error = "TLS: cannot set the minimum protocol version";
    return false;
  }
  return true;
}

bool load(const char* what, const std::string& file, boost::system::error_code ec, std::string& error) {
  if (!ec) return true;
  error = std::string("TLS ") + what + " " + file + ": " + ec.message();
  return false;
}

bool load_identity(ssl::context& ctx, const TlsOptions& tls, std::string& error) {
  boost::system::error_code ec;
  ctx.use_certificate_chain_file(tls.cert, ec);
  if (!load("certificate", tls.cert, ec, error)) return false;
  ctx.use_private_key_file(tls.key, ssl::context::pem, ec);
  return load("key", tls.key, ec, error);
}

}  // namespace

SslContextPtr make_server_context(const TlsOptions& tls, std::string& error) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  if (!harden(*ctx, error) || !load_identity(*ctx, tls, error)) return nullptr;
  if (!tls.ca.empty()) {
    boost::system::error_code ec;
    ctx->load_verify_file(tls.ca, ec);
    if (!load("CA", tls.ca, ec, error)) return nullptr;
    // Tell clients which CA we accept, so one holding several certificates picks the right one.
    if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(tls.ca.c_str())) {
      SSL_CTX_set_client_CA_list(ctx->native_handle(), names);
    }
    ctx->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
    ctx->set_verify_callback([](bool ok, ssl::verify_context& vctx) { return note_verify(ok, vctx, ""); });
  }
  SSL_CTX_set_info_callback(ctx->native_handle(), note_alert);
  return ctx;
}

SslContextPtr make_client_context(const TlsOptions& tls, const std::string& host, std::string& error) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
  if (!harden(*ctx, error)) return nullptr;
  boost::system::error_code ec;
  if (!tls.ca.empty()) {
    ctx->load_verify_file(tls.ca, ec);
    if (!load("CA", tls.ca, ec, error)) return nullptr;
  } else {
    ctx->set_default_verify_paths(ec);
    if (!load("system CAs", "", ec, error)) return nullptr;
  }
  if (!tls.cert.empty() && !load_identity(*ctx, tls, error)) return nullptr;
  ctx->set_verify_mode(ssl::verify_peer);
  ctx->set_verify_callback(
      [host, check = ssl::host_name_verification(host)](bool ok, ssl::verify_context& vctx) {
        return note_verify(check(ok, vctx), vctx, host);
      },
      ec);
  if (!load("host name verification", host, ec, error)) return nullptr;
  SSL_CTX_set_info_callback(ctx->native_handle(), note_alert);
  return ctx;
}

std::string handshake_failure(SSL* ssl) {
  if (ssl == nullptr || note_index() < 0) return "";
  auto* what = static_cast<const std::string*>(SSL_get_ex_data(ssl, note_index()));
  return what != nullptr ? *what : "";
}

}  // namespace weir::ws::detail
