#include "runtime/dead_letters.hpp"

#include <boost/json.hpp>
#include <cstdlib>

#include "bus/publisher.hpp"
#include "bus/stream_messages.hpp"
#include "graph/plan.hpp"
#include "runtime/batch.hpp"

namespace weir::runtime::dead_letters {

namespace json = boost::json;

namespace {

constexpr std::size_t max_errors = 10;

bus::Status no_stream(const std::string& flow) {
  return bus::Status::error(
      NATS_NOT_FOUND, JSStreamNotFoundErr,
      "flow " + flow + " has no dead-letter stream (" + graph::dead_letter_stream(flow) + ")");
}

// The dead-letter stream's errors in the flow's terms.
bus::Status flow_error(bus::Status st, const std::string& flow, std::uint64_t seq = 0) {
  if (st.js_code() == JSStreamNotFoundErr) return no_stream(flow);
  if (st.js_code() == JSNoMessageFoundErr || (seq != 0 && st.code() == NATS_NOT_FOUND))
    return bus::Status::error(NATS_NOT_FOUND, st.js_code(),
                              "flow " + flow + " has no dead letter " + std::to_string(seq));
  return st;
}

Entry make_entry(const bus::StoredMsg& m) {
  Entry e;
  e.seq = m.seq;
  e.time_ms = m.time_ns / 1'000'000;
  if (auto v = m.header("Weir-Component")) e.component = *v;
  if (auto v = m.header("Weir-Error")) e.error = *v;
  if (auto v = m.header("Weir-Subject")) e.subject = *v;
  e.bytes = m.data.size();
  if (auto v = m.header("Weir-Records")) {
    e.records = std::strtoull(std::string(*v).c_str(), nullptr, 10);
  } else {
    for (char c : m.data) e.records += c == '\n';
  }
  e.error_records = m.header("Weir-Body") == "errors";
  return e;
}

// The records the error records of `body` wrap, with their ids, as a batch body.
bool unwrap_error_records(std::string_view body, BatchWriter& out, std::string& error) {
  BatchReader reader;
  std::vector<sdk::Record> records;
  if (!reader.decode(body, records, error)) return false;
  for (auto& rec : records) {
    const auto* env = rec.value.if_object();
    const auto* inner = env != nullptr ? env->if_contains("record") : nullptr;
    if (inner == nullptr) {
      error = "error record " + rec.id + " holds no \"record\"";
      return false;
    }
    out.add({rec.id, *inner});
  }
  return true;
}

void note(ReplayResult& r, std::string text) {
  ++r.failed;
  if (r.errors.size() < max_errors) r.errors.push_back(std::move(text));
}

}  // namespace

bus::Result<Page> list(const bus::Connection& conn, const std::string& flow, std::size_t limit,
                       std::uint64_t after_seq) {
  auto js = conn.jetstream();
  if (!js) return js.status();
  const auto stream = graph::dead_letter_stream(flow);
  Page page;
  // One more than asked tells whether a next page exists.
  auto seqs = bus::stream_sequences(js->raw(), stream, after_seq, limit == 0 ? 0 : limit + 1, &page.total);
  if (!seqs) return flow_error(seqs.status(), flow);
  const bool more = limit != 0 && seqs->size() > limit;
  if (more) seqs->pop_back();
  for (auto seq : *seqs) {
    auto m = bus::get_stream_msg(js->raw(), stream, seq);
    if (!m) {
      if (m.status().is_not_found() && m.status().js_code() != JSStreamNotFoundErr)
        continue;  // just replayed
      return flow_error(m.status(), flow);
    }
    page.entries.push_back(make_entry(*m));
  }
  if (more && !seqs->empty()) page.next_after = seqs->back();
  return page;
}

bus::Result<Detail> show(const bus::Connection& conn, const std::string& flow, std::uint64_t seq) {
  auto js = conn.jetstream();
  if (!js) return js.status();
  auto m = bus::get_stream_msg(js->raw(), graph::dead_letter_stream(flow), seq);
  if (!m) return flow_error(m.status(), flow, seq);
  Detail d;
  d.entry = make_entry(*m);
  d.headers = std::move(m->headers);
  d.body = std::move(m->data);
  return d;
}

bus::Result<ReplayResult> replay(const bus::Connection& conn, const std::string& flow,
                                 const std::optional<std::string>& component,
                                 std::optional<std::uint64_t> seq) {
  auto js = conn.jetstream();
  if (!js) return js.status();
  const auto dlq = graph::dead_letter_stream(flow);
  const auto stream = graph::stream_name(flow);
  std::vector<std::uint64_t> seqs;
  if (seq) {
    seqs.push_back(*seq);
  } else {
    auto all = bus::stream_sequences(js->raw(), dlq, 0, 0);
    if (!all) return flow_error(all.status(), flow);
    seqs = std::move(all.value());
  }
  // With interest retention a message no consumer wants is dropped as soon as it is stored.
  auto filters = bus::consumer_filters(js->raw(), stream);
  if (!filters) {
    if (filters.status().js_code() != JSStreamNotFoundErr) return filters.status();
    return bus::Status::error(
        NATS_NOT_FOUND, JSStreamNotFoundErr,
        "flow " + flow + " is not deployed (no stream " + stream + "); nothing replayed");
  }
  auto pub = bus::AsyncPublisher::create(conn);
  if (!pub) return pub.status();

  ReplayResult r;
  for (auto s : seqs) {
    auto m = bus::get_stream_msg(js->raw(), dlq, s);
    if (!m) {
      auto st = flow_error(m.status(), flow, s);
      if (seq || st.js_code() == JSStreamNotFoundErr) return st;
      if (!st.is_not_found()) note(r, st.text());
      continue;  // not found: removed meanwhile (a concurrent replay, the stream's limits)
    }
    const auto entry = make_entry(*m);
    if (component && entry.component != *component) continue;
    if (entry.subject.empty()) {
      ++r.skipped_no_subject;
      continue;
    }
    bool read = false;
    for (const auto& f : *filters) read = read || bus::subject_matches(f, entry.subject);
    if (!read) {
      ++r.skipped_no_consumer;
      continue;
    }
    std::string body = std::move(m->data);
    std::uint64_t records = entry.records;
    if (entry.error_records) {
      BatchWriter batch;
      std::string error;
      if (!unwrap_error_records(body, batch, error)) {
        note(r, "dead letter " + std::to_string(s) + ": " + error);
        continue;
      }
      body = batch.body();
      records = batch.count();
    }
    const auto count = std::to_string(records);
    const bus::Header h[] = {{"Weir-Records", count}};
    auto ack = pub.value()->publish_sync(entry.subject, body, "replay/" + std::to_string(s), h);
    if (!ack) {
      note(r, "dead letter " + std::to_string(s) + ": " + ack.status().text());
      continue;
    }
    auto del = bus::delete_stream_msg(js->raw(), dlq, s);
    if (!del.ok() && !del.is_not_found()) {
      note(r, "dead letter " + std::to_string(s) + " replayed but not removed (a second replay within the " +
                  "duplicate window stores it once): " + del.text());
      continue;
    }
    ++r.replayed;
    r.records += records;
  }
  return r;
}

json::value to_json(const Entry& e) {
  json::object o;
  o["seq"] = e.seq;
  o["time"] = e.time_ms;
  o["component"] = e.component;
  o["error"] = e.error;
  if (e.subject.empty())
    o["subject"] = nullptr;
  else
    o["subject"] = e.subject;
  o["records"] = e.records;
  o["bytes"] = e.bytes;
  o["error_records"] = e.error_records;
  return o;
}

json::value to_json(const Page& page) {
  json::array entries;
  for (const auto& e : page.entries) entries.push_back(to_json(e));
  json::object o;
  o["dead_letters"] = std::move(entries);
  o["total"] = page.total;
  o["next_after"] = page.next_after;
  return o;
}

json::value to_json(const Detail& d) {
  json::object o = to_json(d.entry).as_object();
  json::array headers;
  for (const auto& [k, v] : d.headers) headers.push_back(json::array{json::string(k), json::string(v)});
  o["headers"] = std::move(headers);
  o["body"] = d.body;
  BatchReader reader;
  std::vector<sdk::Record> records;
  std::string error;
  if (reader.decode(d.body, records, error)) {
    json::array batch;
    for (auto& rec : records) batch.push_back(json::object{{"id", rec.id}, {"record", std::move(rec.value)}});
    o["batch"] = std::move(batch);
  } else {
    o["batch"] = nullptr;
  }
  return o;
}

json::value to_json(const ReplayResult& r) {
  json::object o;
  o["replayed"] = r.replayed;
  o["records"] = r.records;
  o["skipped_no_subject"] = r.skipped_no_subject;
  o["skipped_no_consumer"] = r.skipped_no_consumer;
  o["failed"] = r.failed;
  json::array errors;
  for (const auto& e : r.errors) errors.push_back(json::string(e));
  o["errors"] = std::move(errors);
  return o;
}

}  // namespace weir::runtime::dead_letters
