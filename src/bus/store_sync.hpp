// Puts what nats-server stored on disk: fsyncs a stream's files (or every stream's) in the
// server's JetStream store folder (on this host, or mounted here), for an acknowledgement that
// must survive a power cut.
//
// Why this is sound with nats-server 2.9 (checked in its v2.9.10 source, server/filestore.go and
// stream.go): streams are created with AsyncFlush off ("flush in place"), so storing a message
// write(2)s its record to the stream's last message block file (msgs/<n>.blk) before the server
// sends the PubAck (storeRawMsg → writeMsgRecord → flushPendingMsgsLocked → WriteAt; a failed
// write is an error PubAck). The server itself fsyncs only every 2 minutes (SyncInterval, fixed
// in 2.9). fsync applies to a file, not to the descriptor that wrote it, so an fsync by another
// process after the PubAck puts that record on disk. The block file is the source of truth at
// recovery: an index file (msgs/<n>.idx) that does not match the block is rebuilt from it.
//
// sync() fdatasyncs every block and index file and, when files came or went (a new block, a
// purge that replaced the msgs folder), fsyncs the folders too, so that new names survive.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "bus/status.hpp"

namespace weir::bus {

class StreamSync {
 public:
  // `store_dir`: the server's JetStream store folder (its store_dir: it holds jetstream/).
  // `stream` empty: every stream of every account in it.
  StreamSync(std::filesystem::path store_dir, std::string stream);

  // See above. A stream's folder, <store_dir>/jetstream/<account>/streams/<stream>, is looked up
  // at the first call (and again after an error): an error when there is none, or several.
  Status sync();

 private:
  struct Folder {
    std::set<std::string> names;  // files of msgs/ at the last sync
    ino_t msgs_ino = 0;           // the msgs folder at the last sync (a purge replaces it)
  };
  Status resolve();
  Status sync_folder(const std::filesystem::path& stream_dir, Folder& f);

  std::filesystem::path store_dir_;
  std::string stream_;
  std::map<std::filesystem::path, Folder> folders_;  // by stream folder
};

// The first sequence of each message block of `stream` in the server's store (sorted; blocks
// without a record left out), read from the first record of each msgs/<n>.blk (nats-server
// 2.9's record: length u32, sequence u64, ... little-endian; bit 63 of the sequence marks a
// deleted record). A purge up to one of them removes whole blocks (unlink) and rewrites none:
// nats-server 2.9 rewrites a block cut in its middle (truncate and write, or a new file renamed
// over it) without an fsync, so that a power cut in the moment after could leave the block empty.
Result<std::vector<std::uint64_t>> block_first_seqs(const std::filesystem::path& store_dir,
                                                    const std::string& stream);

}  // namespace weir::bus
