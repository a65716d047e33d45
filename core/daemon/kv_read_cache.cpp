#include "daemon/kv_read_cache.h"

namespace gkfs {

KvReadCache::KvReadCache(std::unique_ptr<KvStore> store, size_t capacity)
    : store_(std::move(store)), capacity_(capacity) {}

Status KvReadCache::Get(std::string_view key, std::string* value) {
  uint64_t seen;
  {
    std::lock_guard<std::mutex> l(mu_);
    auto it = cached_.find(std::string(key));
    if (it != cached_.end()) {
      lru_.splice(lru_.begin(), lru_, it->second.lru);
      *value = it->second.value;
      return Status::OK();
    }
    seen = updates_;
  }
  Status s = store_->Get(key, value);
  if (!s.ok() || capacity_ == 0) return s;
  std::lock_guard<std::mutex> l(mu_);
  if (updates_ != seen) return s;  // an update overlapped the lookup: what it read may be old
  auto [it, added] = cached_.try_emplace(std::string(key));
  if (!added) return s;
  it->second.value = *value;
  it->second.lru = lru_.insert(lru_.begin(), it->first);
  if (cached_.size() > capacity_) {
    cached_.erase(lru_.back());
    lru_.pop_back();
  }
  return s;
}

void KvReadCache::ForgetLocked(std::string_view key) {
  ++updates_;
  auto it = cached_.find(std::string(key));
  if (it == cached_.end()) return;
  lru_.erase(it->second.lru);
  cached_.erase(it);
}

Status KvReadCache::Put(std::string_view key, std::string_view value) {
  Status s = store_->Put(key, value);
  std::lock_guard<std::mutex> l(mu_);
  ForgetLocked(key);
  return s;
}

Status KvReadCache::Write(const std::vector<Update>& updates) {
  Status s = store_->Write(updates);
  std::lock_guard<std::mutex> l(mu_);
  for (const Update& u : updates) ForgetLocked(u.key);
  return s;
}

Status KvReadCache::Delete(std::string_view key) {
  Status s = store_->Delete(key);
  std::lock_guard<std::mutex> l(mu_);
  ForgetLocked(key);
  return s;
}

Status KvReadCache::Merge(std::string_view key, std::string_view operand) {
  Status s = store_->Merge(key, operand);
  std::lock_guard<std::mutex> l(mu_);
  ForgetLocked(key);
  return s;
}

size_t KvReadCache::TEST_cached() const {
  std::lock_guard<std::mutex> l(mu_);
  return cached_.size();
}

}  // namespace gkfs
