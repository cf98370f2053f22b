#include "bus/stream_messages.hpp"

#include <algorithm>
#include <cstdlib>
#include <memory>

namespace weir::bus {

namespace {

using StreamInfoPtr = std::unique_ptr<jsStreamInfo, void (*)(jsStreamInfo*)>;
using ConsumerListPtr = std::unique_ptr<jsConsumerInfoList, void (*)(jsConsumerInfoList*)>;
using MsgPtr = std::unique_ptr<natsMsg, void (*)(natsMsg*)>;

// nats.c hands out header key and value arrays that the caller frees (not the strings).
struct FreeArray {
  void operator()(const char** p) const { std::free(static_cast<void*>(p)); }
};
using StringArray = std::unique_ptr<const char*, FreeArray>;

void copy_headers(natsMsg* m, std::vector<std::pair<std::string, std::string>>& out) {
  const char** raw_keys = nullptr;
  int nkeys = 0;
  if (natsMsgHeader_Keys(m, &raw_keys, &nkeys) != NATS_OK) return;  // NATS_NOT_FOUND: none
  StringArray keys(raw_keys);
  for (int k = 0; k < nkeys; ++k) {
    const char** raw_values = nullptr;
    int nvalues = 0;
    if (natsMsgHeader_Values(m, keys.get()[k], &raw_values, &nvalues) != NATS_OK) continue;
    StringArray values(raw_values);
    for (int v = 0; v < nvalues; ++v) out.emplace_back(keys.get()[k], values.get()[v]);
  }
}

}  // namespace

std::optional<std::string_view> StoredMsg::header(std::string_view key) const {
  for (const auto& [k, v] : headers)
    if (k == key) return std::string_view(v);
  return std::nullopt;
}

namespace {
StoredMsg stored(natsMsg* m);
}  // namespace

Result<StoredMsg> get_stream_msg(jsCtx* js, const std::string& stream, std::uint64_t seq) {
  natsMsg* raw = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  const natsStatus s = js_GetMsg(&raw, js, stream.c_str(), seq, nullptr, &code);
  MsgPtr m(raw, natsMsg_Destroy);
  if (s != NATS_OK) return from_nats(s, "get message " + std::to_string(seq) + " of " + stream, code);
  return stored(m.get());
}

namespace {

Result<StoredMsg> direct_get(jsCtx* js, const std::string& stream, const jsDirectGetMsgOptions& o,
                             const std::string& what) {
  natsMsg* raw = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  const natsStatus s =
      js_DirectGetMsg(&raw, js, stream.c_str(), nullptr, const_cast<jsDirectGetMsgOptions*>(&o));
  MsgPtr m(raw, natsMsg_Destroy);
  if (s != NATS_OK) return from_nats(s, what + " of " + stream, code);
  return stored(m.get());
}

}  // namespace

Result<StoredMsg> get_next_msg(jsCtx* js, const std::string& stream, const std::string& subject,
                               std::uint64_t from_seq) {
  jsDirectGetMsgOptions o;
  jsDirectGetMsgOptions_Init(&o);
  o.Sequence = std::max<std::uint64_t>(from_seq, 1);
  o.NextBySubject = subject.c_str();
  return direct_get(js, stream, o, "next message on " + subject);
}

Result<StoredMsg> get_last_msg(jsCtx* js, const std::string& stream, const std::string& subject) {
  jsDirectGetMsgOptions o;
  jsDirectGetMsgOptions_Init(&o);
  o.LastBySubject = subject.c_str();
  return direct_get(js, stream, o, "last message on " + subject);
}

namespace {

StoredMsg stored(natsMsg* raw) {
  MsgPtr m(raw, [](natsMsg*) {});
  StoredMsg out;
  out.seq = natsMsg_GetSequence(m.get());
  out.time_ns = natsMsg_GetTime(m.get());
  if (const char* subj = natsMsg_GetSubject(m.get())) out.subject = subj;
  if (const char* data = natsMsg_GetData(m.get()))
    out.data.assign(data, static_cast<std::size_t>(natsMsg_GetDataLength(m.get())));
  copy_headers(m.get(), out.headers);
  return out;
}

}  // namespace

Status delete_stream_msg(jsCtx* js, const std::string& stream, std::uint64_t seq) {
  jsErrCode code = static_cast<jsErrCode>(0);
  const natsStatus s = js_DeleteMsg(js, stream.c_str(), seq, nullptr, &code);
  return from_nats(s, "delete message " + std::to_string(seq) + " of " + stream, code);
}

Result<std::vector<std::uint64_t>> stream_sequences(jsCtx* js, const std::string& stream,
                                                    std::uint64_t after_seq, std::size_t limit,
                                                    std::uint64_t* total) {
  jsOptions o;
  jsOptions_Init(&o);
  o.Stream.Info.DeletedDetails = true;
  jsStreamInfo* raw = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  const natsStatus s = js_GetStreamInfo(&raw, js, stream.c_str(), &o, &code);
  StreamInfoPtr info(raw, jsStreamInfo_Destroy);
  if (s != NATS_OK) return from_nats(s, "stream info " + stream, code);
  const auto& state = info->State;
  if (total != nullptr) *total = state.Msgs;
  std::vector<std::uint64_t> deleted(state.Deleted, state.Deleted + std::max(state.DeletedLen, 0));
  std::sort(deleted.begin(), deleted.end());
  std::vector<std::uint64_t> out;
  if (state.Msgs == 0) return out;
  auto gap = deleted.begin();
  for (auto seq = std::max(after_seq + 1, state.FirstSeq); seq <= state.LastSeq; ++seq) {
    while (gap != deleted.end() && *gap < seq) ++gap;
    if (gap != deleted.end() && *gap == seq) continue;
    out.push_back(seq);
    if (limit != 0 && out.size() >= limit) break;
  }
  return out;
}

Result<std::vector<std::string>> consumer_filters(jsCtx* js, const std::string& stream) {
  jsConsumerInfoList* raw = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  const natsStatus s = js_Consumers(&raw, js, stream.c_str(), nullptr, &code);
  ConsumerListPtr list(raw, jsConsumerInfoList_Destroy);
  std::vector<std::string> out;
  if (s == NATS_NOT_FOUND && code == 0) return out;  // nats.c: a stream without consumers
  if (s != NATS_OK) return from_nats(s, "consumers of " + stream, code);
  for (int i = 0; i < list->Count; ++i) {
    const auto* c = list->List[i]->Config;
    out.emplace_back(c != nullptr && c->FilterSubject != nullptr ? c->FilterSubject : "");
  }
  return out;
}

bool subject_matches(std::string_view filter, std::string_view subject) {
  if (filter.empty()) return true;
  for (;;) {
    const auto fdot = filter.find('.');
    const auto sdot = subject.find('.');
    const auto ftok = filter.substr(0, fdot);
    const auto stok = subject.substr(0, sdot);
    if (ftok == ">") return !subject.empty();
    if (ftok != "*" && ftok != stok) return false;
    if (fdot == std::string_view::npos || sdot == std::string_view::npos) return fdot == sdot;
    filter.remove_prefix(fdot + 1);
    subject.remove_prefix(sdot + 1);
  }
}

}  // namespace weir::bus
