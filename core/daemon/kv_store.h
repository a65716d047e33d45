// KvStore: the metadata backend seam. Keys are normalised paths, values metadata records
// (common/metadata_codec.h); Merge applies a merge operand (size growth, truncate, attrs).
// Two implementations: RocksDB (production; WAL on, written out by Flush) and in-memory (tests,
// --memory-backend).
// All methods are thread-safe. An iterator sees keys in byte order.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "gkfs/status.h"

namespace gkfs {

class KvIterator {
 public:
  virtual ~KvIterator() = default;
  virtual void Seek(std::string_view key) = 0;  // first key >= key
  virtual bool Valid() const = 0;
  virtual void Next() = 0;
  virtual std::string_view key() const = 0;
  virtual std::string_view value() const = 0;
};

class KvStore {
 public:
  virtual ~KvStore() = default;
  // ENOENT if absent.
  virtual Status Get(std::string_view key, std::string* value) = 0;
  virtual Status Put(std::string_view key, std::string_view value) = 0;
  // All of them or none, in one write (RocksDB: one batch, one WAL append).
  struct Update {
    enum class Op : uint8_t { kPut, kErase, kMerge };
    std::string_view key;
    std::string_view value;  // the record (kPut) or the operand (kMerge); ignored by kErase
    Op op = Op::kPut;
  };
  virtual Status Write(const std::vector<Update>& updates) = 0;
  virtual Status Delete(std::string_view key) = 0;
  virtual Status Merge(std::string_view key, std::string_view operand) = 0;
  // REQUIRES: the iterator is destroyed before the store.
  virtual std::unique_ptr<KvIterator> NewIterator() = 0;
  // Hands the log of every update made so far to the OS (RocksDB: the WAL records buffered
  // since the last Flush, in one write(2); nothing to do when none were), so that a crash of
  // this process loses none of them (a crash of the machine may: Sync). Writes leave their
  // log buffered until then: the daemon calls this once per turn of its network thread,
  // before that turn's replies go out (a group commit of the requests served together).
  virtual Status Flush() = 0;
  // Makes every update so far durable (RocksDB: its WAL written and synced). Writes do not
  // sync one by one; this is what fsync(2) of a file asks of its owner.
  virtual Status Sync() = 0;
  // About how many bytes the store holds (RocksDB: its table files and memtables; the WAL
  // not counted). Cheap enough for every metrics scrape.
  virtual uint64_t ApproximateBytes() = 0;
};

// Merge operands of one key a RocksDB memtable keeps before storing the merged value.
constexpr size_t kMaxSuccessiveMerges = 32;

// Opens (creating if needed) a RocksDB database in dir with the gkfs merge operator.
Status OpenRocksDbStore(const std::string& dir, std::unique_ptr<KvStore>* out);
std::unique_ptr<KvStore> NewMemoryStore();

}  // namespace gkfs
