// KvReadCache: a KvStore in front of another that remembers the values its lookups found
// (at most `capacity`, the least recently used dropped first). Every update through it
// (Put, Merge, Delete, Write) forgets the keys it touches once the store has applied it,
// and a lookup that overlapped any update does not keep what it read, so Get returns what
// the store itself would. What it saves: a RocksDB lookup is a memtable skip-list search
// (~12 000 instructions for an inode record with its merge operands); the records a file's
// reads (the size lookup) and stats ask for again and again become a hash lookup.
// REQUIRES: every update of the wrapped store goes through this object. Thread-safe (one
// mutex, never held across a call to the wrapped store).
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "daemon/kv_store.h"

namespace gkfs {

class KvReadCache : public KvStore {
 public:
  KvReadCache(std::unique_ptr<KvStore> store, size_t capacity);

  Status Get(std::string_view key, std::string* value) override;
  Status Put(std::string_view key, std::string_view value) override;
  Status Write(const std::vector<Update>& updates) override;
  Status Delete(std::string_view key) override;
  Status Merge(std::string_view key, std::string_view operand) override;
  std::unique_ptr<KvIterator> NewIterator() override { return store_->NewIterator(); }
  Status Sync() override { return store_->Sync(); }
  uint64_t ApproximateBytes() override { return store_->ApproximateBytes(); }
  size_t TEST_cached() const;

 private:
  struct Entry {
    std::string value;
    std::list<std::string>::iterator lru;
  };
  // Forgets key; counts an update (lookups under way then keep nothing). REQUIRES: mu_ held.
  void ForgetLocked(std::string_view key);

  std::unique_ptr<KvStore> store_;
  const size_t capacity_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Entry> cached_;  // GUARDED_BY(mu_)
  std::list<std::string> lru_;                     // most recent first; GUARDED_BY(mu_)
  uint64_t updates_ = 0;                           // GUARDED_BY(mu_)
};

}  // namespace gkfs
