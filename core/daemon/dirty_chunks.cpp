#include "daemon/dirty_chunks.h"

#include <utility>

namespace gkfs {

void DirtyChunks::Add(uint64_t file_id, const std::vector<uint64_t>& chunks, bool file_dir_changed,
                      bool top_dir_changed) {
  std::lock_guard<std::mutex> l(mu_);
  if (overflowed_) return;  // the whole-system sync that must come covers these too
  File& f = files_[file_id];
  for (uint64_t index : chunks) tracked_ += f.chunks.emplace(index, epoch_).second;
  f.file_dir_changed |= file_dir_changed;
  f.top_dir_changed |= top_dir_changed;
  if (tracked_ > capacity_) {
    ClearLocked();
    overflowed_ = true;
  }
}

void DirtyChunks::Forget(uint64_t file_id) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = files_.find(file_id);
  if (it == files_.end()) return;
  tracked_ -= it->second.chunks.size();
  files_.erase(it);
}

uint64_t DirtyChunks::NewEpoch() {
  std::lock_guard<std::mutex> l(mu_);
  return ++epoch_;
}

bool DirtyChunks::Take(uint64_t file_id, uint64_t epoch, Batch* out) {
  std::lock_guard<std::mutex> l(mu_);
  if (overflowed_) return false;
  auto it = files_.find(file_id);
  if (it == files_.end()) return true;
  File& f = it->second;
  for (auto c = f.chunks.begin(); c != f.chunks.end();) {
    if (c->second >= epoch) {
      ++c;
      continue;
    }
    out->chunks.push_back(*c);
    c = f.chunks.erase(c);
    --tracked_;
  }
  out->file_dir_changed |= std::exchange(f.file_dir_changed, false);
  out->top_dir_changed |= std::exchange(f.top_dir_changed, false);
  if (f.chunks.empty()) files_.erase(it);
  return true;
}

void DirtyChunks::PutBack(uint64_t file_id, const Batch& rest) {
  std::lock_guard<std::mutex> l(mu_);
  if (overflowed_ || rest.empty()) return;
  File& f = files_[file_id];
  for (const auto& [index, since] : rest.chunks) {
    auto [it, added] = f.chunks.emplace(index, since);
    if (!added && since < it->second) it->second = since;  // dirty again meanwhile: keep the older
    tracked_ += added;
  }
  f.file_dir_changed |= rest.file_dir_changed;
  f.top_dir_changed |= rest.top_dir_changed;
}

bool DirtyChunks::overflowed() const {
  std::lock_guard<std::mutex> l(mu_);
  return overflowed_;
}

void DirtyChunks::Reset() {
  std::lock_guard<std::mutex> l(mu_);
  ClearLocked();
  overflowed_ = false;
}

void DirtyChunks::SetOverflow() {
  std::lock_guard<std::mutex> l(mu_);
  ClearLocked();
  overflowed_ = true;
}

size_t DirtyChunks::tracked() const {
  std::lock_guard<std::mutex> l(mu_);
  return tracked_;
}

void DirtyChunks::ClearLocked() {
  files_.clear();
  tracked_ = 0;
}

}  // namespace gkfs
