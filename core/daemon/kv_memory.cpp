// In-memory KvStore: a sorted map under one mutex. Used by unit tests and --memory-backend.
#include <map>
#include <mutex>

#include "daemon/kv_store.h"
#include "daemon/merge_operator.h"

namespace gkfs {
namespace {

class MemoryStore;

// Holds the store's lock for its lifetime, so it must be short-lived.
class MemoryIterator : public KvIterator {
 public:
  MemoryIterator(std::mutex& mu, const std::map<std::string, std::string, std::less<>>& map)
      : lock_(mu), map_(map), it_(map.begin()) {}
  void Seek(std::string_view key) override { it_ = map_.lower_bound(key); }
  bool Valid() const override { return it_ != map_.end(); }
  void Next() override { ++it_; }
  std::string_view key() const override { return it_->first; }
  std::string_view value() const override { return it_->second; }

 private:
  std::unique_lock<std::mutex> lock_;
  const std::map<std::string, std::string, std::less<>>& map_;
  std::map<std::string, std::string, std::less<>>::const_iterator it_;
};

class MemoryStore : public KvStore {
 public:
  Status Get(std::string_view key, std::string* value) override {
    std::lock_guard<std::mutex> l(mu_);
    auto it = map_.find(key);
    if (it == map_.end()) return Status::Error(ENOENT, "no such file or directory");
    *value = it->second;
    return Status::OK();
  }
  Status Put(std::string_view key, std::string_view value) override {
    std::lock_guard<std::mutex> l(mu_);
    map_[std::string(key)] = std::string(value);
    return Status::OK();
  }
  Status Write(const std::vector<Update>& updates) override {
    std::lock_guard<std::mutex> l(mu_);
    for (const Update& u : updates) {
      if (u.op == Update::Op::kPut) {
        map_[std::string(u.key)] = std::string(u.value);
      } else if (u.op == Update::Op::kMerge) {
        MergeLocked(u.key, u.value);
      } else if (auto it = map_.find(u.key); it != map_.end()) {
        map_.erase(it);
      }
    }
    return Status::OK();
  }
  Status Delete(std::string_view key) override {
    std::lock_guard<std::mutex> l(mu_);
    auto it = map_.find(key);
    if (it != map_.end()) map_.erase(it);
    return Status::OK();
  }
  Status Merge(std::string_view key, std::string_view operand) override {
    std::lock_guard<std::mutex> l(mu_);
    MergeLocked(key, operand);
    return Status::OK();
  }
  std::unique_ptr<KvIterator> NewIterator() override {
    return std::make_unique<MemoryIterator>(mu_, map_);
  }
  // Nothing here survives the process anyway.
  Status Flush() override { return Status::OK(); }
  Status Sync() override { return Status::OK(); }
  uint64_t ApproximateBytes() override {
    std::lock_guard<std::mutex> l(mu_);
    uint64_t bytes = 0;
    for (const auto& [key, value] : map_) bytes += key.size() + value.size();
    return bytes;
  }

 private:
  // REQUIRES: mu_ held.
  void MergeLocked(std::string_view key, std::string_view operand) {
    auto it = map_.find(key);
    std::string_view base;
    if (it != map_.end()) base = it->second;
    std::string merged = MergeRecord(it != map_.end() ? &base : nullptr, {operand});
    map_[std::string(key)] = std::move(merged);
  }

  std::mutex mu_;
  std::map<std::string, std::string, std::less<>> map_;  // GUARDED_BY(mu_)
};

}  // namespace

std::unique_ptr<KvStore> NewMemoryStore() { return std::make_unique<MemoryStore>(); }

}  // namespace gkfs
