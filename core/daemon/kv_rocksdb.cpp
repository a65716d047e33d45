// RocksDB implementation of KvStore, with the metadata merge operator.
#include <atomic>

#include <rocksdb/db.h>
#include <rocksdb/merge_operator.h>
#include <rocksdb/options.h>
#include <rocksdb/perf_level.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/write_batch.h>

#include "common/log.h"
#include "common/metadata_codec.h"
#include "daemon/kv_store.h"
#include "daemon/merge_operator.h"

namespace gkfs {
namespace {

class RocksIterator : public KvIterator {
 public:
  explicit RocksIterator(rocksdb::Iterator* it) : it_(it) {}
  void Seek(std::string_view key) override { it_->Seek(rocksdb::Slice(key.data(), key.size())); }
  bool Valid() const override { return it_->Valid(); }
  void Next() override { it_->Next(); }
  std::string_view key() const override { return it_->key().ToStringView(); }
  std::string_view value() const override { return it_->value().ToStringView(); }

 private:
  std::unique_ptr<rocksdb::Iterator> it_;
};

Status FromRocks(const rocksdb::Status& s, const char* what) {
  if (s.ok()) return Status::OK();
  if (s.IsNotFound()) return Status::Error(ENOENT, "no such file or directory");
  return Status::Error(EIO, std::string(what) + ": " + s.ToString());
}

// RocksDB keeps per-operation counters in a thread-local context (a TLS lookup per
// counter from a shared library) unless the thread turns them off; we read none of them.
void WithoutPerfCounters() {
  static thread_local bool off = (rocksdb::SetPerfLevel(rocksdb::PerfLevel::kDisable), true);
  (void)off;
}

// Where a key goes in the memtable's skip list is remembered per prefix (RocksDB's insert
// hints), so that an insert near the previous one of its prefix skips the search from the
// top. A create or remove writes three streams at once: the entry (prefix: its parent
// directory), the parent's inode (rewritten again and again) and the file's inode (ids
// minted in order); with one hint they would take turns and each insert would search the
// whole list (about 10 000 instructions per key). Prefixes: an entry's parent path with its
// '/', an inode key's id without its low 8 bits, any other key itself. In memory only.
class InsertHintPrefix : public rocksdb::SliceTransform {
 public:
  const char* Name() const override { return "gkfs.InsertHintPrefix"; }
  rocksdb::Slice Transform(const rocksdb::Slice& key) const override {
    std::string_view k = key.ToStringView();
    size_t end = k.size();
    if (!k.empty() && k[0] == '/') {
      end = k.rfind('/') + 1;
    } else if (k.size() == 18 && k[0] == '#') {
      end = 16;
    }
    return rocksdb::Slice(key.data(), end);
  }
  bool InDomain(const rocksdb::Slice& /*key*/) const override { return true; }
};

// The WAL is written by Flush (manual_wal_flush): a Write appends its record to RocksDB's
// buffer only. unflushed_ says a write came since the last Flush, so that a turn of the
// network thread without writes costs no call into RocksDB.
class RocksStore : public KvStore {
 public:
  explicit RocksStore(rocksdb::DB* db) : db_(db) {}
  // Writes out what is still buffered: a failed turn's records, and writes of I/O threads
  // or the session reaper after the network thread's last turn.
  ~RocksStore() override {
    rocksdb::Status s = db_->FlushWAL(false);
    if (!s.ok()) GKFS_LOG(kError, "rocksdb write wal at close: " + s.ToString());
  }
  Status Get(std::string_view key, std::string* value) override {
    WithoutPerfCounters();
    return FromRocks(db_->Get(rocksdb::ReadOptions(), Slice(key), value), "rocksdb get");
  }
  Status Put(std::string_view key, std::string_view value) override {
    WithoutPerfCounters();
    return Wrote(db_->Put(write_options_, Slice(key), Slice(value)), "rocksdb put");
  }
  Status Write(const std::vector<Update>& updates) override {
    WithoutPerfCounters();
    rocksdb::WriteBatch batch;
    rocksdb::Status s;
    for (const Update& u : updates) {
      if (!s.ok()) break;
      switch (u.op) {
        case Update::Op::kPut: s = batch.Put(Slice(u.key), Slice(u.value)); break;
        case Update::Op::kMerge: s = batch.Merge(Slice(u.key), Slice(u.value)); break;
        case Update::Op::kErase: s = batch.Delete(Slice(u.key)); break;
      }
    }
    if (!s.ok()) return FromRocks(s, "rocksdb write");
    return Wrote(db_->Write(write_options_, &batch), "rocksdb write");
  }
  Status Delete(std::string_view key) override {
    WithoutPerfCounters();
    return Wrote(db_->Delete(write_options_, Slice(key)), "rocksdb delete");
  }
  Status Merge(std::string_view key, std::string_view operand) override {
    WithoutPerfCounters();
    return Wrote(db_->Merge(write_options_, Slice(key), Slice(operand)), "rocksdb merge");
  }
  std::unique_ptr<KvIterator> NewIterator() override {
    WithoutPerfCounters();
    return std::make_unique<RocksIterator>(db_->NewIterator(rocksdb::ReadOptions()));
  }
  Status Flush() override {
    if (!unflushed_.exchange(false, std::memory_order_acq_rel)) return Status::OK();
    rocksdb::Status s = db_->FlushWAL(false);
    if (!s.ok()) unflushed_.store(true, std::memory_order_release);  // the next Flush tries again
    return FromRocks(s, "rocksdb write wal");
  }
  // FlushWAL(true), not SyncWAL(): it first writes out the WAL buffer, then syncs (the WAL
  // file, and its directory after a new one). It leaves unflushed_ alone: Sync runs on an
  // I/O thread, and clearing the flag here would let the network thread's Flush, between
  // the clear and this write, skip a record whose reply it then sends. The next Flush after
  // a Sync costs one spare FlushWAL(false).
  Status Sync() override { return FromRocks(db_->FlushWAL(true), "rocksdb sync wal"); }
  uint64_t ApproximateBytes() override {
    uint64_t tables = 0, memtables = 0;
    db_->GetIntProperty(rocksdb::DB::Properties::kTotalSstFilesSize, &tables);
    db_->GetIntProperty(rocksdb::DB::Properties::kCurSizeAllMemTables, &memtables);
    return tables + memtables;
  }

 private:
  static rocksdb::Slice Slice(std::string_view s) { return rocksdb::Slice(s.data(), s.size()); }
  // After a write: its record waits in the WAL buffer for the next Flush. Set even when the
  // write failed (RocksDB may have buffered part of a group), which costs a spare FlushWAL.
  Status Wrote(const rocksdb::Status& s, const char* what) {
    unflushed_.store(true, std::memory_order_release);
    return FromRocks(s, what);
  }
  std::unique_ptr<rocksdb::DB> db_;
  std::atomic<bool> unflushed_{false};
  rocksdb::WriteOptions write_options_;  // WAL on (disableWAL = false); no fsync per write
};

}  // namespace

Status OpenRocksDbStore(const std::string& dir, std::unique_ptr<KvStore>* out) {
  rocksdb::Options options;
  options.create_if_missing = true;
  options.merge_operator = NewMetadataMergeOperator();
  options.IncreaseParallelism(2);
  options.max_open_files = 256;
  // A create first looks its path up, and the path is new: a memtable Bloom filter over
  // whole keys answers that without walking the skip list.
  options.memtable_whole_key_filtering = true;
  options.memtable_prefix_bloom_size_ratio = 0.05;
  // Every write of a file merges a size operand into its inode; a lookup (every read's size
  // lookup, every stat) applies all the operands not yet compacted. Past this many in the
  // memtable RocksDB stores the merged record instead, so the chain a lookup replays stays
  // short whatever the number of writes (ior-hard: tens of thousands of writes per file).
  options.max_successive_merges = kMaxSuccessiveMerges;
  // Insert hints work only for writes one at a time (RocksDB then queues concurrent writers
  // behind one leader, as it does for the WAL anyway).
  options.memtable_insert_with_hint_prefix_extractor = std::make_shared<InsertHintPrefix>();
  options.allow_concurrent_memtable_write = false;
  // A write leaves its WAL record in RocksDB's buffer; KvStore::Flush writes out the records
  // of all the requests one turn of the network thread served, before their replies, in one
  // write(2) instead of one per request. Acknowledged updates reach the OS as before.
  options.manual_wal_flush = true;
  // Debian's librocksdb logs at DEBUG by default: a line in LOG for every FlushWAL (about
  // 7 700 instructions and a write(2) per turn).
  options.info_log_level = rocksdb::InfoLogLevel::INFO_LEVEL;
  rocksdb::DB* db = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(options, dir, &db);
  if (!s.ok()) return Status::Error(EIO, "cannot open RocksDB in '" + dir + "': " + s.ToString());
  *out = std::make_unique<RocksStore>(db);
  return Status::OK();
}

}  // namespace gkfs
