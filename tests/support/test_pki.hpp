// Test certificates made by the openssl CLI: a CA, a server certificate for localhost and
// 127.0.0.1 and a client certificate signed by it, and an unrelated CA; all in a temp dir of
// their own, removed at the end.
#pragma once

#include <doctest/doctest.h>
#include <stdlib.h>  // mkdtemp

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace weir::testing {

class Pki {
 public:
  Pki() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "weir-pki-XXXXXX").string();
    REQUIRE(mkdtemp(tmpl.data()) != nullptr);
    dir_ = tmpl;
    make_ca("ca");
    make_ca("other_ca");
    make_leaf("server", "serverAuth", "subjectAltName=DNS:localhost,IP:127.0.0.1\n");
    make_leaf("client", "clientAuth", "");
  }
  ~Pki() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

 private:
  void run(const std::string& cmd) {
    std::string full = "cd '" + dir_.string() + "' && " + cmd + " >/dev/null 2>&1";
    REQUIRE_MESSAGE(std::system(full.c_str()) == 0, "failed (is the openssl CLI installed?): " << cmd);
  }
  void make_ca(const std::string& name) {
    run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -keyout " + name +
        ".key -out " + name + ".pem -subj /CN=weir-test-" + name +
        " -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign");
  }
  void make_leaf(const std::string& name, const std::string& usage, const std::string& san) {
    std::ofstream(dir_ / (name + ".ext"))
        << san << "extendedKeyUsage=" << usage << "\nbasicConstraints=CA:FALSE\n";
    run("openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout " + name + ".key -out " +
        name + ".csr -subj /CN=weir-test-" + name);
    run("openssl x509 -req -in " + name + ".csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -out " +
        name + ".pem -extfile " + name + ".ext");
  }

  std::filesystem::path dir_;
};

}  // namespace weir::testing
