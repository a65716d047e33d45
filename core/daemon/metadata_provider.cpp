#include "daemon/metadata_provider.h"

#include <dirent.h>

#include <algorithm>
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

Metadata NewRecord(const rpc::CreateRequest& req, int64_t now_ns) {
  Metadata m;
  m.mode = req.mode;
  m.uid = req.uid;
  m.gid = req.gid;
  m.atime_ns = m.mtime_ns = m.ctime_ns = now_ns;
  m.link_target = req.link_target;
  if (S_ISREG(m.mode)) m.file_id = NewFileId();
  return m;
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

Status MetadataProvider::Create(const rpc::CreateRequest& req, Metadata* md, bool* created) {
  std::lock_guard<std::mutex> l(LockFor(req.path));
  *created = false;
  Status s = Load(req.path, md);
  if (s.ok()) {
    return req.exclusive ? Status::Error(EEXIST, "file exists") : Status::OK();
  }
  if (s.code() != ENOENT) return s;
  Metadata m = NewRecord(req, NowNs());
  s = store_->Put(req.path, EncodeMetadata(m));
  if (s.ok()) *md = std::move(m);
  *created = s.ok();
  return s;
}

// Locks the stripes of path and its parent, always in the same order (one when they
// coincide), and reads the parent: r->dir_status is 0 for a directory, else the errno
// (ENOTDIR with r->dir_record when it is no directory). *dir is its record.
class MetadataProvider::InDir {
 public:
  InDir(MetadataProvider& p, const std::string& path, rpc::InDirReply* r)
      : parent_(ParentPath(path)) {
    std::mutex* a = &p.LockFor(parent_);
    std::mutex* b = &p.LockFor(path);
    if (b < a) std::swap(a, b);
    first_ = std::unique_lock<std::mutex>(*a);
    if (b != a) second_ = std::unique_lock<std::mutex>(*b);
    Status s = p.Load(parent_, &dir_);
    if (s.ok()) r->dir_record = EncodeMetadata(dir_);
    if (s.ok() && !dir_.is_dir()) s = Status::Error(ENOTDIR, "a parent is not a directory");
    r->dir_status = s.code();
  }
  const std::string& parent() const { return parent_; }
  // The parent's record with mtime = ctime = now (later than both before).
  std::string Touched(int64_t now, int64_t* touched_ns) const {
    Metadata t = dir_;
    t.mtime_ns = t.ctime_ns = std::max({now, dir_.mtime_ns + 1, dir_.ctime_ns + 1});
    *touched_ns = t.mtime_ns;
    return EncodeMetadata(t);
  }

 private:
  std::string parent_;
  std::unique_lock<std::mutex> first_, second_;
  Metadata dir_;
};

void MetadataProvider::CreateInDir(const rpc::CreateRequest& req, rpc::InDirReply* r) {
  InDir in(*this, req.path, r);
  if (r->dir_status != 0) return;
  Metadata md;
  Status s = Load(req.path, &md);
  if (s.ok()) {
    r->record = EncodeMetadata(md);
    r->status = req.exclusive ? EEXIST : 0;
    return;
  }
  if (s.code() != ENOENT) {
    r->status = s.code();
    return;
  }
  int64_t now = NowNs();
  r->record = EncodeMetadata(NewRecord(req, now));
  int64_t touched = 0;
  std::string dir = in.Touched(now, &touched);
  r->status = store_->Write({{req.path, r->record}, {in.parent(), dir}}).code();
  if (r->status != 0) return;
  r->done = 1;
  r->touched_ns = touched;
}

void MetadataProvider::RemoveInDir(const rpc::RemoveRequest& req, rpc::InDirReply* r) {
  InDir in(*this, req.path, r);
  if (r->dir_status != 0) return;
  Metadata md;
  Status s = Load(req.path, &md);
  if (s.ok() && req.kind == 1 && md.is_dir()) s = Status::Error(EISDIR, "is a directory");
  if (s.ok() && req.kind == 2 && !md.is_dir()) s = Status::Error(ENOTDIR, "not a directory");
  r->status = s.code();
  if (!s.ok()) return;
  r->record = EncodeMetadata(md);
  int64_t touched = 0;
  std::string dir = in.Touched(NowNs(), &touched);
  r->status = store_->Write({{req.path, {}, true}, {in.parent(), dir}}).code();
  if (r->status != 0) return;
  r->done = 1;
  r->touched_ns = touched;
}

Status MetadataProvider::EnsureRoot(uint32_t uid, uint32_t gid) {
  rpc::CreateRequest root;
  root.path = "/";
  root.mode = S_IFDIR | 0755;
  root.uid = uid;
  root.gid = gid;
  Metadata md;
  bool created = false;
  return Create(root, &md, &created);
}

Status MetadataProvider::Stat(const std::string& path, Metadata* md) { return Load(path, md); }

Status MetadataProvider::StatForRead(const std::string& path, Metadata* md) {
  Status s = Load(path, md);
  if (!s.ok()) return s;
  constexpr int64_t kDayNs = 24LL * 3600 * 1000000000;
  const int64_t now = NowNs();
  if (md->atime_ns > md->mtime_ns && md->atime_ns > md->ctime_ns && now - md->atime_ns < kDayNs) {
    return Status::OK();
  }
  AttrUpdate atime;
  atime.atime_ns = now;
  return store_->Merge(path, EncodeSetAttrOperand(atime));
}

Status MetadataProvider::TouchDir(const std::string& path, Metadata* before, int64_t* touched_ns) {
  std::lock_guard<std::mutex> l(LockFor(path));
  *touched_ns = 0;
  Status s = Load(path, before);
  if (!s.ok() || !before->is_dir()) return s;
  Metadata after = *before;
  after.mtime_ns = after.ctime_ns = std::max({NowNs(), before->mtime_ns + 1, before->ctime_ns + 1});
  s = store_->Put(path, EncodeMetadata(after));
  if (s.ok()) *touched_ns = after.mtime_ns;
  return s;
}

Status MetadataProvider::UntouchDir(const rpc::UntouchDirRequest& req) {
  std::lock_guard<std::mutex> l(LockFor(req.path));
  Metadata md;
  Status s = Load(req.path, &md);
  if (!s.ok() || md.mtime_ns != req.touched_ns || md.ctime_ns != req.touched_ns) return s;
  md.mtime_ns = req.mtime_ns;
  md.ctime_ns = req.ctime_ns;
  return store_->Put(req.path, EncodeMetadata(md));
}

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
  AttrUpdate update;
  update.mode = req.mode;
  update.atime_ns = req.atime_ns;
  update.mtime_ns = req.mtime_ns;
  update.ctime_ns = NowNs();
  update.uid = req.uid;
  update.gid = req.gid;
  return store_->Merge(req.path, EncodeSetAttrOperand(update));
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

Status MetadataProvider::Sync() { return store_->Sync(); }

}  // namespace gkfs
