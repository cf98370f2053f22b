#include "bus/topology.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <memory>

namespace weir::bus {

namespace {

using StreamInfoPtr = std::unique_ptr<jsStreamInfo, void (*)(jsStreamInfo*)>;
using ConsumerInfoPtr = std::unique_ptr<jsConsumerInfo, void (*)(jsConsumerInfo*)>;

Status api_error(natsStatus s, jsErrCode code, const std::string& what) {
  Status st = from_nats(s, what, code);
  if (s == NATS_NO_RESPONDERS)
    return Status::error(s, code, st.text() + " - is JetStream enabled on the server (nats-server -js)?");
  return st;
}

jsRetentionPolicy to_nats(Retention r) {
  switch (r) {
    case Retention::limits:
      return js_LimitsPolicy;
    case Retention::interest:
      return js_InterestPolicy;
    case Retention::workqueue:
      return js_WorkQueuePolicy;
  }
  return js_LimitsPolicy;
}

std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

// The server stores "unlimited" as -1 whatever non-positive value it is given; compare and
// send the stored form so that a second ensure finds nothing to change.
StreamSpec normalized(StreamSpec s) {
  if (s.max_bytes <= 0) s.max_bytes = -1;
  if (s.max_msg_size <= 0) s.max_msg_size = -1;
  if (s.max_age.count() < 0) s.max_age = std::chrono::nanoseconds(0);
  if (s.duplicate_window.count() < 0) s.duplicate_window = std::chrono::nanoseconds(0);
  if (s.max_msgs_per_subject <= 0) s.max_msgs_per_subject = -1;
  return s;
}

// Zero (or less) ack_wait / max_ack_pending means "the server's default" (30 s / 1000 on 2.9)
// and is not compared; max_deliver 0 is stored as -1.
ConsumerSpec normalized(ConsumerSpec s) {
  if (s.ack_wait.count() < 0) s.ack_wait = std::chrono::nanoseconds(0);
  if (s.max_ack_pending < 0) s.max_ack_pending = 0;
  if (s.max_deliver <= 0) s.max_deliver = -1;
  return s;
}

bool same_stream(const jsStreamConfig& c, const StreamSpec& s) {
  std::vector<std::string> have;
  have.reserve(static_cast<std::size_t>(c.SubjectsLen));
  for (int i = 0; i < c.SubjectsLen; ++i) have.emplace_back(c.Subjects[i]);
  return sorted(have) == sorted(s.subjects) && c.Retention == to_nats(s.retention) &&
         c.MaxBytes == s.max_bytes && c.MaxAge == s.max_age.count() && c.MaxMsgSize == s.max_msg_size &&
         c.Discard == (s.discard == Discard::new_messages ? js_DiscardNew : js_DiscardOld) &&
         c.Storage == js_FileStorage &&
         (s.duplicate_window.count() == 0 || c.Duplicates == s.duplicate_window.count()) &&
         c.MaxMsgsPerSubject == s.max_msgs_per_subject && c.AllowDirect == s.allow_direct;
}

// `base` carries the fields the spec does not manage (replicas, placement...) so that an update
// does not reset what an operator set by hand. Pointers refer into `subjects`.
void apply(jsStreamConfig& c, const StreamSpec& s, std::vector<const char*>& subjects) {
  subjects.clear();
  for (const auto& subj : s.subjects) subjects.push_back(subj.c_str());
  c.Name = s.name.c_str();
  c.Subjects = subjects.data();
  c.SubjectsLen = static_cast<int>(subjects.size());
  c.Retention = to_nats(s.retention);
  c.MaxBytes = s.max_bytes;
  c.MaxAge = s.max_age.count();
  c.MaxMsgSize = s.max_msg_size;
  c.Discard = s.discard == Discard::new_messages ? js_DiscardNew : js_DiscardOld;
  c.Storage = js_FileStorage;
  // 0 lets the server derive the default again (2 min, capped by max_age); keeping the old
  // value would make lowering max_age below it fail.
  c.Duplicates = s.duplicate_window.count();
  c.MaxMsgsPerSubject = s.max_msgs_per_subject;
  c.AllowDirect = s.allow_direct;
}

bool same_consumer(const jsConsumerConfig& c, const ConsumerSpec& s) {
  const std::string filter = c.FilterSubject != nullptr ? c.FilterSubject : "";
  return filter == s.filter_subject && c.AckPolicy == js_AckExplicit &&
         (s.ack_wait.count() == 0 || c.AckWait == s.ack_wait.count()) &&
         (s.max_ack_pending == 0 || c.MaxAckPending == s.max_ack_pending) && c.MaxDeliver == s.max_deliver &&
         (c.DeliverSubject == nullptr || *c.DeliverSubject == '\0');
}

// `creating`: the start position is set only then; an update keeps the consumer's own.
void apply(jsConsumerConfig& c, const ConsumerSpec& s, bool creating) {
  c.Durable = s.durable.c_str();
  c.FilterSubject = s.filter_subject.empty() ? nullptr : s.filter_subject.c_str();
  c.AckPolicy = js_AckExplicit;
  if (creating) {
    c.DeliverPolicy = s.start_seq > 0 ? js_DeliverByStartSequence : js_DeliverAll;
    c.OptStartSeq = s.start_seq;
  }
  c.AckWait = s.ack_wait.count();
  c.MaxAckPending = s.max_ack_pending;
  c.MaxDeliver = s.max_deliver;
}

}  // namespace

const char* to_string(Ensured e) {
  switch (e) {
    case Ensured::created:
      return "created";
    case Ensured::updated:
      return "updated";
    case Ensured::unchanged:
      return "unchanged";
  }
  return "unknown";
}

Result<Ensured> ensure_stream(jsCtx* js, const StreamSpec& requested) {
  const StreamSpec spec = normalized(requested);
  const std::string what = "stream " + spec.name;
  if (spec.name.empty() || spec.subjects.empty())
    return Status::error(what + ": a stream needs a name and at least one subject");
  std::vector<const char*> subjects;
  // Two attempts: a concurrent creator (another engine) can win the race between get and add.
  for (int attempt = 0; attempt < 2; ++attempt) {
    jsStreamInfo* raw = nullptr;
    jsErrCode code = static_cast<jsErrCode>(0);
    natsStatus s = js_GetStreamInfo(&raw, js, spec.name.c_str(), nullptr, &code);
    StreamInfoPtr info(raw, jsStreamInfo_Destroy);
    if (s == NATS_NOT_FOUND || code == JSStreamNotFoundErr) {
      jsStreamConfig cfg;
      jsStreamConfig_Init(&cfg);
      apply(cfg, spec, subjects);
      jsStreamInfo* created = nullptr;
      code = static_cast<jsErrCode>(0);
      s = js_AddStream(&created, js, &cfg, nullptr, &code);
      jsStreamInfo_Destroy(created);
      if (s == NATS_OK) return Ensured::created;
      if (code == JSStreamNameExistErr && attempt == 0) continue;
      return api_error(s, code, "create " + what);
    }
    if (s != NATS_OK) return api_error(s, code, "get " + what);
    if (same_stream(*info->Config, spec)) return Ensured::unchanged;

    jsStreamConfig cfg = *info->Config;
    apply(cfg, spec, subjects);
    jsStreamInfo* updated = nullptr;
    code = static_cast<jsErrCode>(0);
    s = js_UpdateStream(&updated, js, &cfg, nullptr, &code);
    jsStreamInfo_Destroy(updated);
    if (s != NATS_OK) return api_error(s, code, "the server refused to update " + what);
    spdlog::info("jetstream: updated {}", what);
    return Ensured::updated;
  }
  return Status::error(what + ": lost the create race twice");
}

Status delete_stream(jsCtx* js, const std::string& stream) {
  jsErrCode code = static_cast<jsErrCode>(0);
  return api_error(js_DeleteStream(js, stream.c_str(), nullptr, &code), code, "delete stream " + stream);
}

Result<Ensured> ensure_consumer(jsCtx* js, const std::string& stream, const ConsumerSpec& requested) {
  const ConsumerSpec spec = normalized(requested);
  const std::string what = "consumer " + stream + "/" + spec.durable;
  if (spec.durable.empty()) return Status::error(what + ": a durable name is required");
  for (int attempt = 0; attempt < 2; ++attempt) {
    jsConsumerInfo* raw = nullptr;
    jsErrCode code = static_cast<jsErrCode>(0);
    natsStatus s = js_GetConsumerInfo(&raw, js, stream.c_str(), spec.durable.c_str(), nullptr, &code);
    ConsumerInfoPtr info(raw, jsConsumerInfo_Destroy);
    if (s == NATS_NOT_FOUND || code == JSConsumerNotFoundErr) {
      jsConsumerConfig cfg;
      jsConsumerConfig_Init(&cfg);
      apply(cfg, spec, true);
      jsConsumerInfo* created = nullptr;
      code = static_cast<jsErrCode>(0);
      s = js_AddConsumer(&created, js, stream.c_str(), &cfg, nullptr, &code);
      jsConsumerInfo_Destroy(created);
      if (s == NATS_OK) return Ensured::created;
      if ((code == JSConsumerNameExistErr || code == JSConsumerExistingActiveErr) && attempt == 0) continue;
      return api_error(s, code, "create " + what);
    }
    if (s != NATS_OK) return api_error(s, code, "get " + what);
    if (same_consumer(*info->Config, spec)) return Ensured::unchanged;

    jsConsumerConfig cfg = *info->Config;
    apply(cfg, spec, false);
    jsConsumerInfo* updated = nullptr;
    code = static_cast<jsErrCode>(0);
    s = js_UpdateConsumer(&updated, js, stream.c_str(), &cfg, nullptr, &code);
    jsConsumerInfo_Destroy(updated);
    if (s != NATS_OK) return api_error(s, code, "the server refused to update " + what);
    spdlog::info("jetstream: updated {}", what);
    return Ensured::updated;
  }
  return Status::error(what + ": lost the create race twice");
}

Status delete_consumer(jsCtx* js, const std::string& stream, const std::string& durable) {
  jsErrCode code = static_cast<jsErrCode>(0);
  const natsStatus s = js_DeleteConsumer(js, stream.c_str(), durable.c_str(), nullptr, &code);
  return api_error(s, code, "delete consumer " + stream + "/" + durable);
}

Result<std::vector<std::string>> consumer_names(jsCtx* js, const std::string& stream) {
  jsConsumerNamesList* list = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  const natsStatus s = js_ConsumerNames(&list, js, stream.c_str(), nullptr, &code);
  // nats.c answers NATS_NOT_FOUND for a stream without consumers (a flow's first start): none.
  if (s == NATS_NOT_FOUND && code != JSStreamNotFoundErr) return std::vector<std::string>{};
  if (s != NATS_OK) return api_error(s, code, "consumer names of " + stream);
  std::vector<std::string> out;
  if (list) {
    for (int i = 0; i < list->Count; ++i) out.emplace_back(list->List[i]);
    jsConsumerNamesList_Destroy(list);
  }
  return out;
}

Status purge_stream(jsCtx* js, const std::string& stream, const std::string& subject,
                    std::uint64_t below_seq) {
  jsOptions o;
  jsOptions_Init(&o);
  if (!subject.empty()) o.Stream.Purge.Subject = subject.c_str();
  o.Stream.Purge.Sequence = below_seq;
  jsErrCode code = static_cast<jsErrCode>(0);
  const natsStatus s = js_PurgeStream(js, stream.c_str(), &o, &code);
  return api_error(s, code, "purge " + (subject.empty() ? stream : stream + "/" + subject));
}

Result<StreamState> stream_info(jsCtx* js, const std::string& stream) {
  jsStreamInfo* raw = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  const natsStatus s = js_GetStreamInfo(&raw, js, stream.c_str(), nullptr, &code);
  StreamInfoPtr info(raw, jsStreamInfo_Destroy);
  if (s != NATS_OK) return api_error(s, code, "stream info " + stream);
  StreamState st;
  st.messages = info->State.Msgs;
  st.bytes = info->State.Bytes;
  st.first_seq = info->State.FirstSeq;
  st.last_seq = info->State.LastSeq;
  st.consumers = info->State.Consumers;
  st.created_ns = info->Created;
  if (info->Config != nullptr) st.duplicate_window = std::chrono::nanoseconds(info->Config->Duplicates);
  return st;
}

Result<ConsumerState> consumer_info(jsCtx* js, const std::string& stream, const std::string& durable) {
  jsConsumerInfo* raw = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  const natsStatus s = js_GetConsumerInfo(&raw, js, stream.c_str(), durable.c_str(), nullptr, &code);
  ConsumerInfoPtr info(raw, jsConsumerInfo_Destroy);
  if (s != NATS_OK) return api_error(s, code, "consumer info " + stream + "/" + durable);
  ConsumerState st;
  st.num_pending = info->NumPending;
  st.num_ack_pending = info->NumAckPending;
  st.num_redelivered = info->NumRedelivered;
  st.num_waiting = info->NumWaiting;
  st.delivered_stream_seq = info->Delivered.Stream;
  st.ack_floor_stream_seq = info->AckFloor.Stream;
  return st;
}

}  // namespace weir::bus
