#include "daemon/metadata_provider.h"

#include <dirent.h>

#include <random>

#include "common/metadata_codec.h"
#include "common/path_util.h"
#include "common/placement.h"

namespace gkfs {
namespace {

int64_t NowNs() {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

uint64_t NewFileId() {
  static thread_local std::mt19937_64 rng(std::random_device{}() ^ (static_cast<uint64_t>(NowNs()) << 1));
  uint64_t id;
  do id = rng(); while (id == 0);
  return id;
}

uint8_t TypeOf(uint32_t mode) {
  if (S_ISDIR(mode)) return DT_DIR;
  if (S_ISLNK(mode)) return DT_LNK;
  return DT_REG;
}

}  // namespace

MetadataProvider::MetadataProvider(std::unique_ptr<KvStore> store) : store_(std::move(store)) {}

std::mutex& MetadataProvider::LockFor(const std::string& path) {
  return stripes_[HashPath(path) % stripes_.size()];
}

Status MetadataProvider::Load(const std::string& path, Metadata* md) {
  std::string value;
  Status s = store_->Get(path, &value);
  if (!s.ok()) return s;
  return DecodeMetadata(value, md);
}

Status MetadataProvider::Create(const rpc::CreateRequest& req, Metadata* md) {
  std::lock_guard<std::mutex> l(LockFor(req.path));
  Status s = Load(req.path, md);
  if (s.ok()) {
    return req.exclusive ? Status::Error(EEXIST, "file exists") : Status::OK();
  }
  if (s.code() != ENOENT) return s;
  Metadata m;
  m.mode = req.mode;
  m.uid = req.uid;
  m.gid = req.gid;
  m.atime_ns = m.mtime_ns = m.ctime_ns = NowNs();
  m.link_target = req.link_target;
  if (S_ISREG(m.mode)) m.file_id = NewFileId();
  s = store_->Put(req.path, EncodeMetadata(m));
  if (s.ok()) *md = std::move(m);
  return s;
}

Status MetadataProvider::EnsureRoot(uint32_t uid, uint32_t gid) {
  rpc::CreateRequest root;
  root.path = "/";
  root.mode = S_IFDIR | 0755;
  root.uid = uid;
  root.gid = gid;
  Metadata md;
  return Create(root, &md);
}

Status MetadataProvider::Stat(const std::string& path, Metadata* md) { return Load(path, md); }

Status MetadataProvider::Remove(const std::string& path, uint8_t kind, Metadata* removed) {
  std::lock_guard<std::mutex> l(LockFor(path));
  Status s = Load(path, removed);
  if (!s.ok()) return s;
  if (kind == 1 && removed->is_dir()) return Status::Error(EISDIR, "is a directory");
  if (kind == 2 && !removed->is_dir()) return Status::Error(ENOTDIR, "not a directory");
  return store_->Delete(path);
}

Status MetadataProvider::GrowSize(const std::string& path, uint64_t size, int64_t mtime_ns) {
  return store_->Merge(path, EncodeGrowOperand(size, mtime_ns));
}

Status MetadataProvider::ReserveAppend(const std::string& path, uint64_t length, int64_t mtime_ns,
                                       uint64_t* offset) {
  std::lock_guard<std::mutex> l(LockFor(path));
  Metadata md;
  Status s = Load(path, &md);
  if (!s.ok()) return s;
  if (md.is_dir()) return Status::Error(EISDIR, "is a directory");
  *offset = md.size;
  return store_->Merge(path, EncodeGrowOperand(md.size + length, mtime_ns));
}

Status MetadataProvider::SetSize(const std::string& path, uint64_t size, int64_t mtime_ns) {
  std::lock_guard<std::mutex> l(LockFor(path));
  Metadata md;
  Status s = Load(path, &md);
  if (!s.ok()) return s;
  if (md.is_dir()) return Status::Error(EISDIR, "is a directory");
  return store_->Merge(path, EncodeSetSizeOperand(size, mtime_ns));
}

Status MetadataProvider::SetAttr(const rpc::SetAttrRequest& req) {
  std::lock_guard<std::mutex> l(LockFor(req.path));
  Metadata md;
  Status s = Load(req.path, &md);
  if (!s.ok()) return s;
  return store_->Merge(req.path, EncodeSetAttrOperand(req.mode, req.atime_ns, req.mtime_ns, NowNs()));
}

Status MetadataProvider::PutRecord(const std::string& path, const std::string& record,
                                   bool* replaced, std::string* old) {
  Metadata incoming;
  Status s = DecodeMetadata(record, &incoming);
  if (!s.ok()) return s;
  std::lock_guard<std::mutex> l(LockFor(path));
  Metadata existing;
  s = Load(path, &existing);
  *replaced = s.ok();
  if (s.ok()) {
    if (existing.is_dir() && !incoming.is_dir()) return Status::Error(EISDIR, "target is a directory");
    if (!existing.is_dir() && incoming.is_dir()) return Status::Error(ENOTDIR, "target is not a directory");
    *old = EncodeMetadata(existing);
  } else if (s.code() != ENOENT) {
    return s;
  }
  return store_->Put(path, record);
}

Status MetadataProvider::ReadDir(const std::string& dir, const std::string& start_after, uint32_t max,
                                 std::vector<rpc::DirEntryWire>* entries, bool* end) {
  const std::string prefix = ChildPrefix(dir);
  entries->clear();
  *end = true;
  auto it = store_->NewIterator();
  it->Seek(prefix + start_after);
  while (it->Valid()) {
    std::string_view key = it->key();
    if (key.compare(0, prefix.size(), prefix) != 0) break;
    std::string_view rest = key.substr(prefix.size());
    size_t slash = rest.find('/');
    if (slash != std::string_view::npos) {
      // A deeper descendant: skip the whole subtree of that child ('0' follows '/').
      it->Seek(prefix + std::string(rest.substr(0, slash)) + "0");
      continue;
    }
    Metadata md;
    if (!rest.empty() && rest > start_after && DecodeMetadata(it->value(), &md).ok()) {
      if (entries->size() == max) {
        *end = false;
        break;
      }
      entries->push_back({std::string(rest), TypeOf(md.mode)});
    }
    it->Next();
  }
  return Status::OK();
}

uint64_t MetadataProvider::CountRecords() {
  uint64_t n = 0;
  auto it = store_->NewIterator();
  for (it->Seek(""); it->Valid(); it->Next()) {
    Metadata md;
    if (it->key() != "/" && DecodeMetadata(it->value(), &md).ok()) ++n;
  }
  return n;
}

}  // namespace gkfs
