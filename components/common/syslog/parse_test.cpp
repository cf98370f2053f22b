// The syslog grammar against a corpus (tests/data/syslog/): lines from RFC 5424 and RFC 3164,
// the shapes of rsyslog's and syslog-ng's documented formats, and logger (util-linux 2.38) runs,
// each with every field it must give; malformed lines with the reason they must get. Also the
// TCP framing (RFC 6587).
#include <doctest/doctest.h>

#include <boost/json.hpp>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "common/syslog/framing.hpp"
#include "common/syslog/parse.hpp"

using namespace weir::components;

namespace {

boost::json::array corpus(const std::string& name) {
  const char* root = std::getenv("WEIR_SOURCE_ROOT");
  REQUIRE_MESSAGE(root != nullptr, "WEIR_SOURCE_ROOT is not set (meson test sets it)");
  std::ifstream in(std::string(root) + "/tests/data/syslog/" + name);
  REQUIRE_MESSAGE(in.good(), "cannot read tests/data/syslog/" << name);
  std::stringstream s;
  s << in.rdbuf();
  return boost::json::parse(s.str()).as_array();
}

constexpr const char* fields[] = {"protocol",  "facility",        "severity", "version",
                                  "timestamp", "hostname",        "app_name", "procid",
                                  "msgid",     "structured_data", "message"};

std::vector<syslog::Framer::Event> drain(syslog::Framer& f) {
  std::vector<syslog::Framer::Event> out;
  for (auto e = f.next(); e.kind != syslog::Framer::Event::none; e = f.next()) out.push_back(std::move(e));
  return out;
}

}  // namespace

TEST_CASE("corpus: every valid line gives every field as expected") {
  const auto lines = corpus("valid.json");
  REQUIRE(lines.size() >= 25);
  std::size_t passed = 0;
  for (const auto& item : lines) {
    const auto& o = item.as_object();
    const std::string line(o.at("line").as_string());
    INFO("source: " << o.at("source").as_string() << "\nline: " << line);
    boost::json::object got;
    std::string reason;
    REQUIRE_MESSAGE(syslog::parse(line, got, reason), reason);
    const auto& want = o.at("fields").as_object();
    CHECK(want.size() == std::size(fields));
    CHECK(got.size() == std::size(fields));
    bool all = true;
    for (const char* f : fields) {
      INFO("field " << f);
      REQUIRE(want.contains(f));
      REQUIRE(got.contains(f));
      CHECK(boost::json::serialize(got.at(f)) == boost::json::serialize(want.at(f)));
      all = all && got.at(f) == want.at(f);
    }
    passed += all ? 1 : 0;
  }
  MESSAGE("valid corpus: " << passed << " of " << lines.size() << " lines with every field as expected");
  CHECK(passed == lines.size());
}

TEST_CASE("corpus: every malformed line is refused with its reason") {
  const auto lines = corpus("malformed.json");
  REQUIRE(lines.size() >= 20);
  std::size_t passed = 0;
  for (const auto& item : lines) {
    const auto& o = item.as_object();
    const std::string line(o.at("line").as_string());
    const std::string want(o.at("reason").as_string());
    INFO("source: " << o.at("source").as_string() << "\nline: " << line);
    boost::json::object got;
    std::string reason;
    CHECK_FALSE(syslog::parse(line, got, reason));
    CHECK_MESSAGE(reason.find(want) != std::string::npos,
                  "reason \"" << reason << "\", expected \"" << want << "\"");
    passed += reason.find(want) != std::string::npos ? 1 : 0;
  }
  MESSAGE("malformed corpus: " << passed << " of " << lines.size()
                               << " lines refused with the expected reason");
  CHECK(passed == lines.size());
}

TEST_CASE("a message that is not UTF-8 is refused (5424 and 3164)") {
  boost::json::object got;
  std::string reason;
  CHECK_FALSE(syslog::parse("<13>1 - h a - - - caf\xE9 latin-1", got, reason));
  CHECK(reason == "the message is not UTF-8 text");
  CHECK_FALSE(syslog::parse("<13>Oct 11 22:14:15 h su: caf\xE9", got, reason));
  CHECK(reason == "the message is not UTF-8 text");
  CHECK_FALSE(syslog::parse("<13>1 - h a - - [x@1 a=\"\xE9\"] m", got, reason));
  CHECK(reason.find("not UTF-8") != std::string::npos);
}

TEST_CASE("every prefix of every corpus line is parsed or refused, never read past its end") {
  std::size_t taken = 0, refused = 0;
  for (const char* name : {"valid.json", "malformed.json"})
    for (const auto& item : corpus(name)) {
      const std::string line(item.as_object().at("line").as_string());
      for (std::size_t n = 0; n <= line.size(); ++n) {
        // A copy of exactly n bytes: a read past it shows under the sanitizers.
        const std::string prefix = line.substr(0, n);
        boost::json::object got;
        std::string reason;
        if (syslog::parse(prefix, got, reason)) {
          ++taken;
          CHECK(got.size() == std::size(fields));
        } else {
          ++refused;
          CHECK_FALSE(reason.empty());
        }
      }
    }
  CHECK(taken > 0);
  CHECK(refused > 0);
}

TEST_CASE("framing: octet-counted and LF frames, told apart per message, split anywhere") {
  const std::string stream =
      "11 <13>1 - - -\n<13>Oct 11 22:14:15 h su: lf one\r\n\n5 hello<13>x\n28 <13>1 - h a - - - with\nLF in";
  const std::vector<std::string> want{"<13>1 - - -", "<13>Oct 11 22:14:15 h su: lf one", "hello", "<13>x",
                                      "<13>1 - h a - - - with\nLF in"};
  for (std::size_t step : {stream.size(), std::size_t{1}, std::size_t{3}, std::size_t{7}}) {
    INFO("fed " << step << " bytes at a time");
    syslog::Framer f(syslog::Framing::auto_detect, 1024);
    std::vector<std::string> got;
    for (std::size_t i = 0; i < stream.size(); i += step) {
      f.feed(std::string_view(stream).substr(i, step));
      for (auto& e : drain(f)) {
        CHECK(e.kind == syslog::Framer::Event::frame);
        got.push_back(e.data);
      }
    }
    CHECK(f.finish().kind == syslog::Framer::Event::none);
    CHECK(got == want);
  }
}

TEST_CASE("framing: an oversized message goes out with its first bytes and the next frame is intact") {
  SUBCASE("octet-counted") {
    syslog::Framer f(syslog::Framing::octet_counted, 300);
    const std::string big(2000, 'x');
    f.feed("2000 " + big.substr(0, 500));
    CHECK(drain(f).empty());  // its first 1024 bytes are not here yet
    f.feed(big.substr(500) + "3 abc");
    auto ev = drain(f);
    REQUIRE(ev.size() == 2);
    CHECK(ev[0].kind == syslog::Framer::Event::oversized);
    CHECK(ev[0].data == big.substr(0, syslog::Framer::head_bytes));
    CHECK(ev[0].reason.find("message of 2000 bytes, more than max_message (300)") != std::string::npos);
    CHECK(ev[1].kind == syslog::Framer::Event::frame);
    CHECK(ev[1].data == "abc");
    CHECK(f.buffered() == 0);
  }
  SUBCASE("LF: dropped up to the next LF, held memory bounded") {
    syslog::Framer f(syslog::Framing::lf, 300);
    f.feed(std::string(2000, 'y'));
    auto ev = drain(f);
    REQUIRE(ev.size() == 1);
    CHECK(ev[0].kind == syslog::Framer::Event::oversized);
    CHECK(ev[0].data == std::string(syslog::Framer::head_bytes, 'y'));
    f.feed(std::string(5000, 'y'));
    CHECK(drain(f).empty());
    CHECK(f.buffered() == 0);
    f.feed("yyy\n<13>next\n");
    ev = drain(f);
    REQUIRE(ev.size() == 1);
    CHECK(ev[0].data == "<13>next");
  }
}

TEST_CASE("framing: a bad MSG-LEN is an error, the reading resumes at the next LF; a cut frame at the end") {
  syslog::Framer f(syslog::Framing::octet_counted, 1024);
  f.feed("12x junk here\n5 hello04 zero\n3 ab");
  auto ev = drain(f);
  REQUIRE(ev.size() == 3);
  CHECK(ev[0].kind == syslog::Framer::Event::error);
  CHECK(ev[0].data == "12x junk here\n5 hello04 zero\n3 ab");
  CHECK(ev[0].reason.find("bad octet-counted frame") != std::string::npos);
  CHECK(ev[1].kind == syslog::Framer::Event::frame);
  CHECK(ev[1].data == "hello");
  CHECK(ev[2].kind == syslog::Framer::Event::error);  // "04": a leading zero
  const auto last = f.finish();
  CHECK(last.kind == syslog::Framer::Event::error);
  CHECK(last.data == "3 ab");
  CHECK(last.reason.find("closed inside an octet-counted message") != std::string::npos);

  syslog::Framer lf(syslog::Framing::lf, 1024);
  lf.feed("<13>no newline at the end\r");
  CHECK(drain(lf).empty());
  const auto tail = lf.finish();
  CHECK(tail.kind == syslog::Framer::Event::frame);
  CHECK(tail.data == "<13>no newline at the end");
}
