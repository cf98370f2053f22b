// http_input's NDJSON ingest against a raw Beast baseline, side by side in one run:
//
//   weir:     POST NDJSON → http_input → the flow's stream (answered 202 only once JetStream
//             stored the records), weir + its nats-server;
//   baseline: the same requests to the engine's own HTTP server on Beast (src/http, as many
//             handler threads) whose handler echoes the body with 202 at once: what HTTP/1.1
//             itself costs here, nothing parsed, nothing stored.
//
// `clients` keep-alive connections each POST bodies of `records` NDJSON lines back to back for
// `secs`. Every weir answer must be 202 with the right count. One JSON line per run and system,
// then a summary: records/s of each, the ratio, CPU-seconds per million records.
//
// build/bench/http_bench --weir build/src/app/weir [--runs K] [--clients C] [--records R]
//   [--secs S]
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bench_util.hpp"
#include "bus/nats_server_process.hpp"
#include "http/server.hpp"

namespace fs = std::filesystem;
namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

const std::string me = "http_bench";

struct Options {
  std::string weir;
  int runs = 3;
  int clients = 4;
  int records = 100;  // per request
  double secs = 10;
};

// A keep-alive HTTP/1.1 client on a blocking socket: one request at a time.
class Client {
 public:
  explicit Client(std::uint16_t port) : socket_(io_) {
    socket_.connect({asio::ip::make_address("127.0.0.1"), port});
    socket_.set_option(asio::ip::tcp::no_delay(true));
  }
  // The status, with the body in `body`; 0 when the connection failed.
  int post(const std::string& target, const std::string& payload, std::string& body) {
    const std::string head =
        "POST " + target +
        " HTTP/1.1\r\nHost: bench\r\nContent-Type: application/x-ndjson\r\nContent-Length: " +
        std::to_string(payload.size()) + "\r\n\r\n";
    boost::system::error_code ec;
    std::array<asio::const_buffer, 2> out{asio::buffer(head), asio::buffer(payload)};
    asio::write(socket_, out, ec);
    if (ec) return 0;
    // Headers, then Content-Length bytes of body.
    std::size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos)
      if (!fill(ec)) return 0;
    const auto cl = buf_.find("Content-Length: ");
    const std::size_t length = cl != std::string::npos && cl < end ? std::stoul(buf_.substr(cl + 16)) : 0;
    while (buf_.size() < end + 4 + length)
      if (!fill(ec)) return 0;
    const int status = std::stoi(buf_.substr(9, 3));
    body = buf_.substr(end + 4, length);
    buf_.erase(0, end + 4 + length);
    return status;
  }

 private:
  bool fill(boost::system::error_code& ec) {
    std::array<char, 65536> chunk{};
    const auto n = socket_.read_some(asio::buffer(chunk), ec);
    buf_.append(chunk.data(), n);
    return !ec;
  }
  asio::io_context io_;
  asio::ip::tcp::socket socket_;
  std::string buf_;
};

std::string body_of(int records, int client) {
  std::string b;
  for (int i = 0; i < records; ++i)
    b += R"({"id":)" + std::to_string(client * 1'000'000 + i) +
         R"(,"site":"a","sensor":"temp-7","value":21.5,"ts":1700000000123})" + "\n";
  return b;
}

struct Load {
  std::uint64_t requests = 0, records = 0, bad = 0;
  double secs = 0;
  std::string first_bad;
};

// `clients` threads POST for `secs`; `check` says whether an answer is right.
Load drive(std::uint16_t port, const std::string& target, const Options& o, bool weir) {
  std::atomic<std::uint64_t> requests{0}, bad{0};
  std::atomic<bool> stop{false};
  std::string first_bad;
  std::mutex mu;
  const std::string want = R"({"stored":)" + std::to_string(o.records) + "}";
  std::vector<std::thread> threads;
  const auto t0 = Clock::now();
  for (int c = 0; c < o.clients; ++c) {
    threads.emplace_back([&, c] {
      try {
        Client client(port);
        const auto payload = body_of(o.records, c);
        std::string body;
        while (!stop.load(std::memory_order_relaxed)) {
          const int status = client.post(target, payload, body);
          if (status == 202 && (weir ? body == want : body == payload)) {
            requests.fetch_add(1, std::memory_order_relaxed);
            continue;
          }
          bad.fetch_add(1);
          std::lock_guard lock(mu);
          if (first_bad.empty()) first_bad = std::to_string(status) + " " + body.substr(0, 200);
          if (status == 0) return;
        }
      } catch (const std::exception& e) {
        bad.fetch_add(1);
        std::lock_guard lock(mu);
        if (first_bad.empty()) first_bad = e.what();
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(o.secs));
  stop = true;
  for (auto& t : threads) t.join();
  Load l;
  l.secs = std::chrono::duration<double>(Clock::now() - t0).count();
  l.requests = requests.load();
  l.records = l.requests * static_cast<std::uint64_t>(o.records);
  l.bad = bad.load();
  l.first_bad = first_bad;
  return l;
}

std::string num(const char* f, double v) {
  char b[64];
  std::snprintf(b, sizeof b, f, v);
  return b;
}

std::string line(const std::string& system, int run, const Load& l, double cpu) {
  std::string j = R"({"run":)" + std::to_string(run) + R"(,"system":")" + system + R"(","requests":)" +
                  std::to_string(l.requests) + R"(,"records":)" + std::to_string(l.records) + R"(,"secs":)" +
                  num("%.2f", l.secs) + R"(,"records_per_s":)" +
                  num("%.0f", static_cast<double>(l.records) / l.secs) + R"(,"cpu_s":)" + num("%.2f", cpu) +
                  R"(,"cpu_s_per_million_records":)" +
                  num("%.2f", l.records > 0 ? cpu * 1e6 / static_cast<double>(l.records) : 0) +
                  R"(,"bad_answers":)" + std::to_string(l.bad);
  if (!l.first_bad.empty()) j += R"(,"first_bad":")" + l.first_bad.substr(0, 80) + "\"";
  return j + "}";
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

double self_cpu() {
  return weir::bench::process_cpu(getpid());
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  weir::bench::Args(me, "http_bench --weir PATH [--runs K] [--clients C] [--records R] [--secs S]")
      .add("--weir", o.weir)
      .add("--runs", o.runs)
      .add("--clients", o.clients)
      .add("--records", o.records)
      .add("--secs", o.secs)
      .parse(argc, argv);
  if (o.weir.empty()) weir::bench::die(me, "--weir PATH is required");
  if (o.runs < 1 || o.clients < 1 || o.records < 1 || o.secs <= 0)
    weir::bench::die(me, "runs, clients, records and secs must be positive");
  const fs::path dir = weir::bench::scratch_dir("weir-http-bench", me);
  std::vector<double> weir_rate, base_rate, ratio;
  bool ok = true;
  for (int run = 1; run <= o.runs; ++run) {
    // weir: a fresh nats-server and engine per run.
    {
      const auto sub = dir / ("weir-" + std::to_string(run));
      auto server = weir::bench::start_nats(sub / "nats", me);
      weir::bench::EngineProcess engine(o.weir, sub / "engine", server->url());
      const auto port = weir::bench::free_port();
      engine.write_flow("ingest.json", R"({"name": "ingest", "components": [
        {"id": "in", "type": "http_input", "config": {"listen": "127.0.0.1:)" +
                                           std::to_string(port) + R"(", "path": "/ingest",
          "max_concurrent": )" + std::to_string(o.clients) +
                                           R"(}}]})");
      engine.start();
      if (!engine.wait_log("flows up", 60s)) weir::bench::die(me, "weir did not start:\n" + engine.log());
      const double cpu0 = weir::bench::process_cpu(engine.pid()) + weir::bench::process_cpu(server->pid());
      const auto l = drive(port, "/ingest", o, true);
      const double cpu =
          weir::bench::process_cpu(engine.pid()) + weir::bench::process_cpu(server->pid()) - cpu0;
      std::printf("%s\n", line("weir", run, l, cpu).c_str());
      std::fflush(stdout);
      ok = ok && l.bad == 0 && l.requests > 0;
      if (l.bad != 0) std::fprintf(stderr, "%s: weir's log:\n%s\n", me.c_str(), engine.log().c_str());
      weir_rate.push_back(static_cast<double>(l.records) / l.secs);
      engine.terminate();
    }
    // The baseline, in this process (its CPU includes the driver's: an upper bound).
    {
      asio::io_context io;
      weir::http::ServerOptions so;
      so.listen = "127.0.0.1:0";
      so.workers = static_cast<std::size_t>(o.clients);
      so.max_body = 64 << 20;
      weir::http::Server server(io, so, [](const weir::http::Request& r) {
        weir::http::Response res;
        res.status = 202;
        res.content_type = "application/x-ndjson";
        res.body = r.body;
        return res;
      });
      std::string error;
      if (!server.start(&error)) weir::bench::die(me, "baseline: " + error);
      std::thread io_thread([&io] {
        auto work = asio::make_work_guard(io);
        io.run();
      });
      const double cpu0 = self_cpu();
      const auto l = drive(server.port(), "/ingest", o, false);
      const double cpu = self_cpu() - cpu0;
      std::printf("%s\n", line("beast_echo", run, l, cpu).c_str());
      std::fflush(stdout);
      ok = ok && l.bad == 0 && l.requests > 0;
      base_rate.push_back(static_cast<double>(l.records) / l.secs);
      server.stop();
      io.stop();
      io_thread.join();
    }
    ratio.push_back(weir_rate.back() / base_rate.back());
  }
  std::error_code ec;
  fs::remove_all(dir, ec);
  std::printf(
      "{\"bench\":\"http_ingest\",\"runs\":%d,\"clients\":%d,\"records_per_request\":%d,\"weir_records_per_"
      "s\":%.0f,"
      "\"beast_echo_records_per_s\":%.0f,\"ratio\":%.3f,\"correct\":%s}\n",
      o.runs, o.clients, o.records, median(weir_rate), median(base_rate), median(ratio),
      ok ? "true" : "false");
  return ok ? 0 : 1;
}
