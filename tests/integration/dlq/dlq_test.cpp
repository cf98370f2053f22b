// Dead letters against a real nats-server: written by the runtime's own publish helpers, then
// listed, shown and replayed through runtime/dead_letters.
#include <doctest/doctest.h>

#include <boost/json.hpp>

#include "bus/publisher.hpp"
#include "bus/pull_consumer.hpp"
#include "bus/stream_messages.hpp"
#include "graph/plan.hpp"
#include "runtime/dead_letters.hpp"
#include "runtime/flow_shared.hpp"
#include "support/nats_fixture.hpp"

using namespace weir;
using namespace std::chrono_literals;
namespace dl = runtime::dead_letters;
namespace json = boost::json;

namespace {

constexpr const char* keep_out = "weir.demo.keep.out";    // read by shape
constexpr const char* shape_out = "weir.demo.shape.out";  // read by sink

// The streams and consumers the engine deploys for flow "demo": keep → shape → sink.
struct DlqFixture : testing::BusFixture {
  runtime::FlowShared shared;
  std::unique_ptr<bus::AsyncPublisher> pub;
  std::uint64_t sent = 0;

  DlqFixture() {
    shared.flow.name = "demo";
    for (const char* id : {"keep", "shape", "sink"}) {
      flow::ComponentDecl c;
      c.id = id;
      shared.flow.components.push_back(std::move(c));
    }
    shared.conn = conn.get();
    shared.stream = graph::stream_name("demo");
    shared.dlq_subject = graph::dead_letter_subject("demo");

    bus::StreamSpec flow;
    flow.name = shared.stream;
    flow.subjects = {graph::stream_subjects("demo")};
    flow.retention = bus::Retention::interest;
    REQUIRE(bus::ensure_stream(js.raw(), flow).ok());
    bus::StreamSpec dlq;
    dlq.name = graph::dead_letter_stream("demo");
    dlq.subjects = {shared.dlq_subject};
    dlq.retention = bus::Retention::limits;
    REQUIRE(bus::ensure_stream(js.raw(), dlq).ok());
    make_consumer(shared.stream, "shape__keep__out", keep_out);
    make_consumer(shared.stream, "sink__shape__out", shape_out);
    auto p = bus::AsyncPublisher::create(*conn);
    REQUIRE(p.ok());
    pub = std::move(p).value();
  }
  ~DlqFixture() { pub.reset(); }

  void settle() {
    std::vector<bus::PublishFailure> failures;
    auto st = pub->wait_all(10s, failures);
    REQUIRE_MESSAGE(st.ok(), st.text());
  }

  // A batch as a stage publishes it, consumed back by `durable` and dead-lettered whole by
  // component `component` (as a stage does after max_deliver, or when a batch does not decode).
  void dead_letter_whole(const std::string& subject, const std::string& durable, std::size_t component,
                         const runtime::BatchWriter& batch, const std::string& reason) {
    const auto id = "in-" + std::to_string(++sent);
    REQUIRE(runtime::publish_batch(*pub, subject, batch.body(), batch.count(), id).ok());
    settle();
    auto c = bus::PullConsumer::bind(js.raw(), shared.stream, durable);
    REQUIRE(c.ok());
    std::vector<bus::Msg> msgs;
    REQUIRE(c->fetch(1, 5s, msgs).ok());
    REQUIRE(msgs.size() == 1);
    runtime::dead_letter_message(shared, *pub, component, msgs[0], id, reason,
                                 *msgs[0].header("Weir-Records"));
    settle();
    REQUIRE(msgs[0].ack().ok());
  }

  // Records that failed one by one in `component`, dead-lettered as error records, as a stage
  // does for an error port nobody reads.
  void dead_letter_records(const std::string& origin, std::size_t component,
                           const runtime::BatchWriter& batch, const std::string& reason) {
    runtime::BatchWriter errors;
    for (auto& rec : records_of(batch))
      errors.add(runtime::error_record(shared, component, std::move(rec), reason));
    REQUIRE(runtime::publish_batch(*pub, shared.dlq_subject, errors, "dead-" + std::to_string(++sent), reason,
                                   shared.flow.components[component].id, origin)
                .ok());
    settle();
  }

  static std::vector<sdk::Record> records_of(const runtime::BatchWriter& batch) {
    runtime::BatchReader reader;
    std::vector<sdk::Record> out;
    std::string error;
    REQUIRE(reader.decode(batch.body(), out, error));
    return out;
  }

  // What `durable` has waiting, fetched and acked.
  std::vector<bus::Msg> take(const std::string& durable, std::size_t n) {
    auto c = bus::PullConsumer::bind(js.raw(), shared.stream, durable);
    REQUIRE(c.ok());
    std::vector<bus::Msg> out;
    while (out.size() < n) {
      std::vector<bus::Msg> got;
      auto st = c->fetch(static_cast<int>(n - out.size()), 2s, got);
      if (got.empty()) break;
      REQUIRE((st.ok() || st.is_timeout()));
      for (auto& m : got) {
        REQUIRE(m.ack().ok());
        out.push_back(std::move(m));
      }
    }
    // Nothing more than expected.
    std::vector<bus::Msg> extra;
    (void)c->fetch(1, 300ms, extra);
    CHECK_MESSAGE(extra.empty(), "unexpected message on " << durable << ": " << extra.front().view());
    for (auto& m : extra) (void)m.ack();
    return out;
  }

  std::uint64_t dead_letters() { return stream_messages(graph::dead_letter_stream("demo")); }
};

runtime::BatchWriter batch_of(std::initializer_list<std::pair<const char*, const char*>> records) {
  runtime::BatchWriter w;
  for (auto [id, text] : records) w.add({id, json::parse(text)});
  return w;
}

}  // namespace

TEST_CASE_FIXTURE(DlqFixture,
                  "a whole dead-lettered batch carries the subject it came from; list and show it") {
  const auto batch = batch_of({{"r1", R"({"v":1})"}, {"r2", R"({"v":2.5,"s":"x"})"}});
  const auto before_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  dead_letter_whole(keep_out, "shape__keep__out", 1, batch, "delivered 6 times without success");

  auto page = dl::list(*conn, "demo");
  REQUIRE_MESSAGE(page.ok(), page.status().text());
  REQUIRE(page->entries.size() == 1);
  CHECK(page->total == 1);
  CHECK(page->next_after == 0);
  const auto& e = page->entries[0];
  CHECK(e.seq == 1);
  CHECK(e.component == "shape");
  CHECK(e.error == "delivered 6 times without success");
  CHECK(e.subject == keep_out);
  CHECK(e.records == 2);
  CHECK(e.bytes == batch.body().size());
  CHECK_FALSE(e.error_records);
  CHECK(e.time_ms >= before_ms - 1000);
  CHECK(e.time_ms <= before_ms + 60'000);

  auto d = dl::show(*conn, "demo", e.seq);
  REQUIRE_MESSAGE(d.ok(), d.status().text());
  CHECK(d->body == batch.body());
  CHECK(d->entry.subject == keep_out);
  bool has_subject = false, has_id = false;
  for (const auto& [k, v] : d->headers) {
    has_subject = has_subject || (k == "Weir-Subject" && v == keep_out);
    has_id = has_id || k == bus::msg_id_header;
  }
  CHECK(has_subject);
  CHECK(has_id);

  const auto j = dl::to_json(*d).as_object();
  CHECK(j.at("seq").to_number<std::uint64_t>() == 1);
  CHECK(j.at("subject").as_string() == keep_out);
  CHECK(j.at("records").to_number<std::uint64_t>() == 2);
  CHECK(j.at("body").as_string() == batch.body());
  REQUIRE(j.at("batch").is_array());
  CHECK(j.at("batch").as_array().size() == 2);
  CHECK(j.at("batch").as_array()[1].at("id").as_string() == "r2");
  CHECK(j.at("batch").as_array()[1].at("record").at("s").as_string() == "x");
  const auto pj = dl::to_json(*page).as_object();
  CHECK(pj.at("total").to_number<std::uint64_t>() == 1);
  CHECK(pj.at("dead_letters").as_array()[0].at("component").as_string() == "shape");
}

TEST_CASE_FIXTURE(DlqFixture,
                  "replay sends a batch back to its subject, then removes it; a second replay finds none") {
  const auto batch = batch_of({{"r1", R"({"v":1})"}, {"r2", R"({"v":2})"}, {"r3", R"({"v":3})"}});
  dead_letter_whole(keep_out, "shape__keep__out", 1, batch, "not a weir batch");
  REQUIRE(dead_letters() == 1);

  auto r = dl::replay(*conn, "demo");
  REQUIRE_MESSAGE(r.ok(), r.status().text());
  CHECK(r->replayed == 1);
  CHECK(r->records == 3);
  CHECK(r->failed == 0);
  CHECK(r->skipped_no_subject == 0);
  CHECK(dead_letters() == 0);

  auto got = take("shape__keep__out", 1);
  REQUIRE(got.size() == 1);
  CHECK(got[0].subject() == keep_out);
  CHECK(got[0].view() == batch.body());
  CHECK(got[0].header("Weir-Records") == "3");
  CHECK(got[0].msg_id() == "replay/1");
  CHECK(take("sink__shape__out", 0).empty());  // another port's reader gets nothing

  auto again = dl::replay(*conn, "demo");
  REQUIRE(again.ok());
  CHECK(again->replayed == 0);
  CHECK(again->failed == 0);
}

TEST_CASE_FIXTURE(DlqFixture, "a replay interrupted after its publish stores the batch once when run again") {
  const auto batch = batch_of({{"r1", R"({"v":1})"}});
  dead_letter_whole(keep_out, "shape__keep__out", 1, batch, "refused by the peer: 500");
  // The first run published, then stopped before removing the dead letter.
  const bus::Header h[] = {{"Weir-Records", "1"}};
  auto first = pub->publish_sync(keep_out, batch.body(), "replay/1", h);
  REQUIRE(first.ok());
  CHECK_FALSE(first->duplicate);

  auto r = dl::replay(*conn, "demo", std::nullopt, 1);
  REQUIRE_MESSAGE(r.ok(), r.status().text());
  CHECK(r->replayed == 1);
  CHECK(dead_letters() == 0);
  CHECK(take("shape__keep__out", 2).size() == 1);  // the duplicate window dropped the second
}

TEST_CASE_FIXTURE(DlqFixture,
                  "error records are unwrapped: the records that failed go back, with their ids") {
  const auto batch = batch_of({{"a:1", R"({"n":1,"value":0})"}, {"a:2", R"({"n":2,"value":10})"}});
  dead_letter_records(keep_out, 1, batch, "division by zero");

  auto page = dl::list(*conn, "demo");
  REQUIRE(page.ok());
  REQUIRE(page->entries.size() == 1);
  CHECK(page->entries[0].error_records);
  CHECK(page->entries[0].records == 2);
  CHECK(page->entries[0].subject == keep_out);
  auto d = dl::show(*conn, "demo", page->entries[0].seq);
  REQUIRE(d.ok());
  CHECK(d->body.find("\"error\":\"division by zero\"") != std::string::npos);

  auto r = dl::replay(*conn, "demo");
  REQUIRE_MESSAGE(r.ok(), r.status().text());
  CHECK(r->replayed == 1);
  CHECK(r->records == 2);
  auto got = take("shape__keep__out", 1);
  REQUIRE(got.size() == 1);
  CHECK(got[0].view() == batch.body());
  CHECK(got[0].header("Weir-Records") == "2");
}

TEST_CASE_FIXTURE(DlqFixture, "replay by component and by sequence leaves the others") {
  dead_letter_whole(keep_out, "shape__keep__out", 1, batch_of({{"s1", "1"}}), "shape failed");
  dead_letter_whole(shape_out, "sink__shape__out", 2, batch_of({{"k1", "2"}}), "sink failed");
  dead_letter_whole(shape_out, "sink__shape__out", 2, batch_of({{"k2", "3"}}), "sink failed");
  REQUIRE(dead_letters() == 3);

  auto r = dl::replay(*conn, "demo", std::string("sink"), 3);
  REQUIRE_MESSAGE(r.ok(), r.status().text());
  CHECK(r->replayed == 1);
  CHECK(dead_letters() == 2);
  auto got = take("sink__shape__out", 1);
  REQUIRE(got.size() == 1);
  CHECK(got[0].view() == "k2 3\n");

  r = dl::replay(*conn, "demo", std::string("sink"));
  REQUIRE(r.ok());
  CHECK(r->replayed == 1);
  CHECK(take("sink__shape__out", 1)[0].view() == "k1 2\n");
  CHECK(take("shape__keep__out", 0).empty());
  auto page = dl::list(*conn, "demo");
  REQUIRE(page.ok());
  REQUIRE(page->entries.size() == 1);
  CHECK(page->entries[0].component == "shape");

  // A sequence of the other component is not replayed under a component filter.
  r = dl::replay(*conn, "demo", std::string("sink"), page->entries[0].seq);
  REQUIRE(r.ok());
  CHECK(r->replayed == 0);
  CHECK(dead_letters() == 1);
}

TEST_CASE_FIXTURE(DlqFixture, "dead letters without a subject, or whose subject nobody reads, are kept") {
  // An older dead letter (no Weir-Subject), and an input's failed records (never consumed).
  REQUIRE(
      runtime::publish_dead_letter(*pub, shared.dlq_subject, "o1 {}\n", "old-1", "bad", "shape", "1").ok());
  dead_letter_records("", 0, batch_of({{"i1", "{}"}}), "not JSON");
  // A subject the flow no longer reads (the component was removed).
  REQUIRE(runtime::publish_dead_letter(*pub, shared.dlq_subject, "g1 {}\n", "gone-1", "bad", "gone", "1",
                                       "weir.demo.gone.out")
              .ok());
  settle();

  auto r = dl::replay(*conn, "demo");
  REQUIRE_MESSAGE(r.ok(), r.status().text());
  CHECK(r->replayed == 0);
  CHECK(r->skipped_no_subject == 2);
  CHECK(r->skipped_no_consumer == 1);
  CHECK(r->failed == 0);
  CHECK(dead_letters() == 3);
  auto page = dl::list(*conn, "demo");
  REQUIRE(page.ok());
  REQUIRE(page->entries.size() == 3);
  CHECK(page->entries[0].subject.empty());
  CHECK(dl::to_json(page->entries[0]).at("subject").is_null());
  CHECK(page->entries[1].component == "keep");
  CHECK(page->entries[1].error_records);
  CHECK(page->entries[2].subject == "weir.demo.gone.out");
}

TEST_CASE_FIXTURE(DlqFixture, "list pages through the dead letters and skips deleted ones") {
  for (int i = 0; i < 5; ++i)
    REQUIRE(runtime::publish_dead_letter(*pub, shared.dlq_subject, "x 1\n", "d" + std::to_string(i), "bad",
                                         "shape", "1", keep_out)
                .ok());
  settle();
  REQUIRE(bus::delete_stream_msg(js.raw(), graph::dead_letter_stream("demo"), 2).ok());

  auto p1 = dl::list(*conn, "demo", 2);
  REQUIRE(p1.ok());
  CHECK(p1->total == 4);
  REQUIRE(p1->entries.size() == 2);
  CHECK(p1->entries[0].seq == 1);
  CHECK(p1->entries[1].seq == 3);
  CHECK(p1->next_after == 3);
  auto p2 = dl::list(*conn, "demo", 2, p1->next_after);
  REQUIRE(p2.ok());
  REQUIRE(p2->entries.size() == 2);
  CHECK(p2->entries[0].seq == 4);
  CHECK(p2->entries[1].seq == 5);
  CHECK(p2->next_after == 0);
  auto all = dl::list(*conn, "demo", 0);
  REQUIRE(all.ok());
  CHECK(all->entries.size() == 4);
}

TEST_CASE_FIXTURE(DlqFixture, "unknown flows and sequences are clear not-found errors") {
  auto page = dl::list(*conn, "nope");
  REQUIRE_FALSE(page.ok());
  CHECK(page.status().is_not_found());
  CHECK(page.status().text() == "flow nope has no dead-letter stream (WEIR_DLQ_NOPE)");
  auto d = dl::show(*conn, "nope", 1);
  REQUIRE_FALSE(d.ok());
  CHECK(d.status().text() == "flow nope has no dead-letter stream (WEIR_DLQ_NOPE)");
  auto r = dl::replay(*conn, "nope");
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().is_not_found());

  d = dl::show(*conn, "demo", 99);
  REQUIRE_FALSE(d.ok());
  CHECK(d.status().is_not_found());
  CHECK(d.status().text() == "flow demo has no dead letter 99");
  r = dl::replay(*conn, "demo", std::nullopt, 99);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().text() == "flow demo has no dead letter 99");

  // A flow stream without consumers would drop what it is sent: the dead letter stays.
  REQUIRE(runtime::publish_dead_letter(*pub, shared.dlq_subject, "x 1\n", "d", "bad", "shape", "1", keep_out)
              .ok());
  settle();
  REQUIRE(bus::delete_consumer(js.raw(), shared.stream, "shape__keep__out").ok());
  REQUIRE(bus::delete_consumer(js.raw(), shared.stream, "sink__shape__out").ok());
  r = dl::replay(*conn, "demo");
  REQUIRE_MESSAGE(r.ok(), r.status().text());
  CHECK(r->skipped_no_consumer == 1);
  CHECK(dead_letters() == 1);

  // A dead-letter stream without its flow's stream: the flow is not deployed, nothing is sent.
  REQUIRE(bus::delete_stream(js.raw(), shared.stream).ok());
  r = dl::replay(*conn, "demo");
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().text().find("not deployed") != std::string::npos);
  CHECK(dead_letters() == 1);
}

TEST_CASE("subject_matches follows NATS wildcards") {
  CHECK(bus::subject_matches("", "a.b"));
  CHECK(bus::subject_matches("a.b", "a.b"));
  CHECK_FALSE(bus::subject_matches("a.b", "a.b.c"));
  CHECK_FALSE(bus::subject_matches("a.b.c", "a.b"));
  CHECK(bus::subject_matches("a.*", "a.b"));
  CHECK_FALSE(bus::subject_matches("a.*", "a.b.c"));
  CHECK(bus::subject_matches("a.>", "a.b.c"));
  CHECK_FALSE(bus::subject_matches("a.>", "a"));
  CHECK(bus::subject_matches("*.b.>", "x.b.c"));
  CHECK_FALSE(bus::subject_matches("weir.demo.keep.out", "weir.demo.keep.outx"));
}
