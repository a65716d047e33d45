#include "daemon/metadata_provider.h"

#include "common/clock.h"
#include "common/hex.h"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cassert>
#include <array>
#include <cstdlib>
#include <initializer_list>

#include "common/path_util.h"
#include "common/placement.h"

namespace gkfs {
namespace {

// Keys besides entries ("/...") and inodes ("#i<hex>"); docs/formats.md.
constexpr char kFormatKey[] = "!format";
constexpr char kFormat[] = "2";
constexpr char kHomeKey[] = "!home";
constexpr char kNextKey[] = "!next";
constexpr uint64_t kMintBlock = 4096;     // ids persisted as used ahead of minting
constexpr uint64_t kInoMask = (1ull << 48) - 1;
constexpr size_t kMaxAppendEnds = 1 << 16;

int64_t NowNs() {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

uint8_t TypeOf(uint32_t mode) {
  switch (mode & S_IFMT) {
    case S_IFDIR: return DT_DIR;
    case S_IFLNK: return DT_LNK;
    case S_IFIFO: return DT_FIFO;
    case S_IFCHR: return DT_CHR;
    case S_IFBLK: return DT_BLK;
    case S_IFSOCK: return DT_SOCK;
    default: return DT_REG;
  }
}

// A directory's record after an entry was added or removed in it: mtime = ctime = now, but
// later than both before, so the touches of one directory are strictly ordered.
Metadata Touched(const Metadata& dir, int64_t now, int32_t nlink_delta) {
  Metadata t = dir;
  t.mtime_ns = t.ctime_ns = std::max({now, dir.mtime_ns + 1, dir.ctime_ns + 1});
  t.nlink = static_cast<uint32_t>(std::max<int64_t>(0, static_cast<int64_t>(dir.nlink) + nlink_delta));
  return t;
}

int32_t SubdirDelta(uint32_t mode, int32_t sign) { return S_ISDIR(mode) ? sign : 0; }

// The entry a create writes: to the inode it links to (req.ino), or to the new one (md).
Entry NewEntryOf(const rpc::CreateRequest& req, const Metadata& md) {
  return {req.ino != 0 ? req.ino : md.file_id, req.mode & S_IFMT};
}

}  // namespace

std::string InodeKey(uint64_t ino) {
  std::string key = "#i";
  AppendHex16(&key, ino);
  return key;
}

std::string OrphanKey(uint64_t ino) {
  std::string key = "#o";
  AppendHex16(&key, ino);
  return key;
}

void MetadataProvider::CountOpenLocked(uint64_t opener, uint64_t ino) {
  ++opens_[ino][opener];
  Session& session = sessions_[opener];
  ++session.opens;
  session.expires_ns = MonotonicNs() + session_lease_ms_ * 1000000;
}

void MetadataProvider::CountOpen(uint64_t opener, const Metadata& md) {
  if (opener == 0 || !md.is_regular()) return;
  std::lock_guard<std::mutex> l(opens_mu_);
  CountOpenLocked(opener, md.file_id);
}

bool MetadataProvider::IsOpen(uint64_t ino) {
  std::lock_guard<std::mutex> l(opens_mu_);
  return opens_.count(ino) != 0;
}

// The stripes one operation holds. Add() takes a group in address order (each mutex once);
// groups are added entries first, then inodes, which keeps every caller in one global order.
// At most kMax stripes, kept in place: a create or remove takes this on every call, and two
// vectors cost it four allocations.
class MetadataProvider::Locked {
 public:
  Locked() = default;
  Locked(const Locked&) = delete;
  Locked& operator=(const Locked&) = delete;
  ~Locked() {
    while (n_ > 0) held_[--n_]->unlock();
  }
  // REQUIRES: at most kMax stripes in all.
  void Add(std::initializer_list<std::mutex*> group) {
    std::array<std::mutex*, kMax> sorted;
    const auto end = std::copy(group.begin(), group.end(), sorted.begin());
    std::sort(sorted.begin(), end);
    const auto distinct = std::unique(sorted.begin(), end);
    for (auto it = sorted.begin(); it != distinct; ++it) {
      assert(n_ < kMax);
      (*it)->lock();
      held_[n_++] = *it;
    }
  }

 private:
  static constexpr size_t kMax = 4;
  std::array<std::mutex*, kMax> held_{};
  size_t n_ = 0;
};

MetadataProvider::MetadataProvider(std::unique_ptr<KvStore> store, int64_t session_lease_ms)
    : store_(std::move(store)), session_lease_ms_(std::max<int64_t>(1, session_lease_ms)) {}

std::mutex& MetadataProvider::EntryLock(const std::string& path) {
  return entry_stripes_[HashPath(path) % entry_stripes_.size()];
}

std::mutex& MetadataProvider::InodeLock(uint64_t ino) {
  return inode_stripes_[(ino ^ (ino >> 48)) % inode_stripes_.size()];
}

Status MetadataProvider::LoadEntry(const std::string& path, Entry* e) {
  if (entry_cache_.Find(path, e)) return Status::OK();
  const uint64_t generation = entry_cache_.Generation(path);
  std::string value;
  store_reads_.fetch_add(1, std::memory_order_relaxed);
  Status s = store_->Get(path, &value);
  if (s.ok() && (s = DecodeEntry(value, e)).ok()) entry_cache_.Fill(path, *e, generation);
  return s;
}

Status MetadataProvider::LoadInode(uint64_t ino, Metadata* md) {
  if (inode_cache_.Find(ino, md)) return Status::OK();
  const uint64_t generation = inode_cache_.Generation(ino);
  std::string value;
  store_reads_.fetch_add(1, std::memory_order_relaxed);
  Status s = store_->Get(InodeKey(ino), &value);
  if (s.ok() && (s = DecodeMetadata(value, md)).ok()) inode_cache_.Fill(ino, *md, generation);
  return s;
}

// A new inode's id is known to nobody before the reply: no reader or writer can race it.
void MetadataProvider::CacheNew(const Metadata& md) {
  inode_cache_.Put(md.file_id, md, inode_cache_.Generation(md.file_id));
}

void MetadataProvider::Wrote(const std::string& path, const Entry* e, uint64_t generation) {
  if (e != nullptr) {
    entry_cache_.Put(path, *e, generation);
  } else {
    entry_cache_.Erase(path);
  }
}

Status MetadataProvider::Open(const std::string& where, uint32_t uid, uint32_t gid) {
  std::string value;
  Status s = store_->Get(kFormatKey, &value);
  if (s.ok() && value != kFormat) {
    return Status::Error(EINVAL, "the metadata in '" + where + "' has format " + value +
                                     "; this gkfs reads format " + kFormat);
  }
  if (s.code() == ENOENT) {
    auto it = store_->NewIterator();
    it->Seek("");
    if (it->Valid()) {
      return Status::Error(EINVAL, "'" + where + "' holds metadata of a gkfs before inodes (format 1), "
                                   "which this gkfs cannot read: start on an empty root directory "
                                   "(--clean-rootdir) or with the gkfs that wrote it");
    }
    it.reset();
    if (!(s = store_->Put(kFormatKey, kFormat)).ok()) return s;
  } else if (!s.ok()) {
    return s;
  }
  Entry root;
  if ((s = LoadEntry("/", &root)).code() == ENOENT) {
    Metadata md;
    md.mode = S_IFDIR | 0755;
    md.uid = uid;
    md.gid = gid;
    md.file_id = kRootIno;
    md.nlink = 2;
    md.atime_ns = md.mtime_ns = md.ctime_ns = NowNs();
    const std::string entry = EncodeEntry({kRootIno, S_IFDIR}), key = InodeKey(kRootIno),
                      record = EncodeMetadata(md);
    s = store_->Write({{"/", entry}, {key, record}});
  }
  if (!s.ok()) return s;
  int64_t entries = 0, orphans = 0;
  auto it = store_->NewIterator();
  for (it->Seek("#o"); it->Valid() && it->key().substr(0, 2) == "#o"; it->Next()) {
    std::lock_guard<std::mutex> l(opens_mu_);
    CountOpenLocked(kPreviousRun, strtoull(std::string(it->key().substr(2)).c_str(), nullptr, 16));
    ++orphans;
  }
  for (it->Seek("/"); it->Valid() && !it->key().empty() && it->key()[0] == '/'; it->Next()) {
    if (it->key() != "/") ++entries;
  }
  it.reset();
  entries_.store(entries);
  orphans_.store(orphans);
  std::lock_guard<std::mutex> l(mint_mu_);
  if (store_->Get(kHomeKey, &value).ok()) home_ = static_cast<uint32_t>(std::stoul(value));
  if (store_->Get(kNextKey, &value).ok()) next_ino_ = ino_limit_ = std::stoull(value);
  return store_->Flush();  // the format and the root, before any client sees them
}

Status MetadataProvider::MintIno(uint32_t home, uint64_t* ino) {
  if (home >= kMaxDaemons) return Status::Error(EINVAL, "daemon index past 65535");
  std::lock_guard<std::mutex> l(mint_mu_);
  Status s;
  if (home_ == kMaxDaemons) {
    if (!(s = store_->Put(kHomeKey, std::to_string(home))).ok()) return s;
    home_ = home;
  } else if (home != home_) {
    return Status::Error(ESTALE, "this daemon is daemon " + std::to_string(home_) + " of its file system, "
                                 "a client takes it for daemon " + std::to_string(home) +
                                 ": the daemons' order changed (hosts file without daemon ids?)");
  }
  if (next_ino_ > kInoMask) return Status::Error(ENOSPC, "inode ids of this daemon are used up");
  if (next_ino_ == ino_limit_) {
    if (!(s = store_->Put(kNextKey, std::to_string(ino_limit_ + kMintBlock))).ok()) return s;
    ino_limit_ += kMintBlock;
  }
  *ino = (static_cast<uint64_t>(home) << 48) | next_ino_++;
  return Status::OK();
}

// The entry (and for a new inode its key and record) of a create; *md the inode, which is
// held here unless req links to an inode elsewhere (then *record stays empty).
Status MetadataProvider::NewEntry(const rpc::CreateRequest& req, int64_t now, std::string* entry,
                                  std::string* inode_key, std::string* record, Metadata* md) {
  if (req.ino != 0) {
    *entry = EncodeEntry(NewEntryOf(req, *md));
    if (LoadInode(req.ino, md).ok()) *record = EncodeMetadata(*md);
    return Status::OK();
  }
  Metadata m;
  Status s = MintIno(req.home, &m.file_id);
  if (!s.ok()) return s;
  m.mode = req.mode;
  m.uid = req.uid;
  m.gid = req.gid;
  m.nlink = S_ISDIR(req.mode) ? 2 : 1;
  m.rdev = req.rdev;
  m.atime_ns = m.mtime_ns = m.ctime_ns = now;
  m.link_target = req.link_target;
  *entry = EncodeEntry(NewEntryOf(req, m));
  *inode_key = InodeKey(m.file_id);
  *record = EncodeMetadata(m);
  *md = std::move(m);
  return Status::OK();
}

void MetadataProvider::DropLink(const Metadata& md, int64_t now, Dropped* out,
                                std::vector<KvStore::Update>* updates) {
  Metadata a = md;
  out->key = InodeKey(md.file_id);
  const bool last = md.is_dir() || md.nlink <= 1;
  const bool orphan = last && md.is_regular() && IsOpen(md.file_id);
  out->reclaim = last && !orphan;
  a.nlink = last ? 0 : md.nlink - 1;
  a.ctime_ns = std::max(md.ctime_ns, now);
  if (out->reclaim) {
    updates->push_back({out->key, {}, KvStore::Update::Op::kErase});
  } else {
    out->operand = EncodeLinksOperand(-1, now);
    updates->push_back({out->key, out->operand, KvStore::Update::Op::kMerge});
  }
  if (orphan) {
    out->orphan_key = OrphanKey(md.file_id);
    updates->push_back({out->orphan_key, {}});
  }
  out->after = EncodeMetadata(a);
}

void MetadataProvider::DescribeExisting(uint64_t ino, uint64_t opener, std::string* record, uint64_t* remote) {
  Metadata md;
  if (!LoadInode(ino, &md).ok()) {
    *remote = ino;
    return;
  }
  *record = EncodeMetadata(md);
  CountOpen(opener, md);
}

Status MetadataProvider::Create(const rpc::CreateRequest& req, rpc::CreateReply* r) {
  std::lock_guard<std::mutex> l(EntryLock(req.path));
  Entry existing;
  Status s = LoadEntry(req.path, &existing);
  Metadata md;
  if (s.ok()) {
    if (req.exclusive) return Status::Error(EEXIST, "file exists");
    DescribeExisting(existing.ino, req.opener, &r->record, &r->remote_ino);
    return Status::OK();
  }
  if (s.code() != ENOENT) return s;
  std::string entry, key, record;
  if (!(s = NewEntry(req, NowNs(), &entry, &key, &record, &md)).ok()) return s;
  std::vector<KvStore::Update> updates{{req.path, entry}};
  if (!key.empty()) updates.push_back({key, record});
  const uint64_t generation = entry_cache_.Generation(req.path);
  if (!(s = store_->Write(updates)).ok()) return s;
  const Entry written = NewEntryOf(req, md);
  Wrote(req.path, &written, generation);
  if (!key.empty()) CacheNew(md);
  ++entries_;
  if (!record.empty()) CountOpen(req.opener, md);
  r->created = 1;
  r->record = record;
  if (record.empty()) r->remote_ino = req.ino;
  return Status::OK();
}

void MetadataProvider::CreateInDir(const rpc::CreateRequest& req, rpc::InDirReply* r) {
  const std::string parent = ParentPath(req.path);
  Locked locks;
  locks.Add({&EntryLock(parent), &EntryLock(req.path)});
  Entry pe, existing;
  Status s = LoadEntry(parent, &pe);
  if (s.ok() && !S_ISDIR(pe.mode)) s = Status::Error(ENOTDIR, "a parent is not a directory");
  if (!s.ok()) {
    r->dir_status = s.code();
    return;
  }
  Status es = LoadEntry(req.path, &existing);
  locks.Add({&InodeLock(pe.ino)});
  Metadata dir, md;
  if (LoadInode(pe.ino, &dir).code() == ENOENT) {
    r->dir_remote = pe.ino;
    return;
  }
  r->dir_record = EncodeMetadata(dir);
  if (es.ok()) {
    r->status = req.exclusive ? EEXIST : 0;
    DescribeExisting(existing.ino, req.exclusive ? 0 : req.opener, &r->record, &r->remote_ino);
    return;
  }
  if (es.code() != ENOENT) {
    r->status = es.code();
    return;
  }
  const int64_t now = NowNs();
  std::string entry, key, record;
  if ((r->status = NewEntry(req, now, &entry, &key, &record, &md).code()) != 0) return;
  Metadata touched = Touched(dir, now, SubdirDelta(req.mode, +1));
  const std::string dir_key = InodeKey(pe.ino), dir_record = EncodeMetadata(touched);
  std::vector<KvStore::Update> updates{{req.path, entry}, {dir_key, dir_record}};
  if (!key.empty()) updates.push_back({key, record});
  const uint64_t entry_generation = entry_cache_.Generation(req.path);
  const uint64_t dir_generation = inode_cache_.Generation(pe.ino);
  if ((r->status = store_->Write(updates).code()) != 0) return;
  const Entry written = NewEntryOf(req, md);
  Wrote(req.path, &written, entry_generation);
  Wrote(pe.ino, touched, dir_generation);
  if (!key.empty()) CacheNew(md);
  ++entries_;
  r->record = record;
  if (record.empty()) r->remote_ino = req.ino;
  else CountOpen(req.opener, md);
  r->done = 1;
  r->touched_ns = touched.mtime_ns;
}

namespace {
// kind's type check of a removal (rpc::RemoveRequest).
Status CheckKind(uint8_t kind, uint32_t mode) {
  if ((kind & 3) == 1 && S_ISDIR(mode)) return Status::Error(EISDIR, "is a directory");
  if ((kind & 3) == 2 && !S_ISDIR(mode)) return Status::Error(ENOTDIR, "not a directory");
  return Status::OK();
}
}  // namespace

void MetadataProvider::RemoveInDir(const rpc::RemoveRequest& req, rpc::InDirReply* r) {
  const std::string parent = ParentPath(req.path);
  Locked locks;
  locks.Add({&EntryLock(parent), &EntryLock(req.path)});
  Entry pe, e;
  Status s = LoadEntry(parent, &pe);
  if (s.ok() && !S_ISDIR(pe.mode)) s = Status::Error(ENOTDIR, "a parent is not a directory");
  if (!s.ok()) {
    r->dir_status = s.code();
    return;
  }
  Status es = LoadEntry(req.path, &e);
  if (es.ok()) es = CheckKind(req.kind, e.mode);
  locks.Add({&InodeLock(pe.ino), es.ok() ? &InodeLock(e.ino) : &InodeLock(pe.ino)});
  Metadata dir, md;
  if (LoadInode(pe.ino, &dir).code() == ENOENT) {
    r->dir_remote = pe.ino;
    return;
  }
  r->dir_record = EncodeMetadata(dir);
  if ((r->status = es.code()) != 0) return;
  const int64_t now = NowNs();
  std::vector<KvStore::Update> updates{{req.path, {}, KvStore::Update::Op::kErase}};
  Dropped dropped;
  if (!(req.kind & rpc::kEntryOnly)) {
    if (LoadInode(e.ino, &md).ok()) {
      DropLink(md, now, &dropped, &updates);
    } else {
      r->remote_ino = e.ino;
    }
  }
  Metadata touched = Touched(dir, now, SubdirDelta(e.mode, -1));
  const std::string dir_key = InodeKey(pe.ino), dir_record = EncodeMetadata(touched);
  updates.push_back({dir_key, dir_record});
  const uint64_t dir_generation = inode_cache_.Generation(pe.ino);
  if ((r->status = store_->Write(updates).code()) != 0) return;
  Wrote(req.path, nullptr, 0);
  Wrote(pe.ino, touched, dir_generation);  // before Forget, which may share its shard
  if (!dropped.key.empty()) Forget(e.ino);
  --entries_;
  if (!dropped.orphan_key.empty()) ++orphans_;
  r->record = dropped.after;
  r->reclaim = dropped.reclaim;
  r->done = 1;
  r->touched_ns = touched.mtime_ns;
}

Status MetadataProvider::Remove(const rpc::RemoveRequest& req, rpc::RemoveReply* r) {
  Locked locks;
  locks.Add({&EntryLock(req.path)});
  Entry e;
  Status s = LoadEntry(req.path, &e);
  if (s.ok()) s = CheckKind(req.kind, e.mode);
  if (!s.ok()) return s;
  std::vector<KvStore::Update> updates{{req.path, {}, KvStore::Update::Op::kErase}};
  Dropped dropped;
  if (!(req.kind & rpc::kEntryOnly)) {
    locks.Add({&InodeLock(e.ino)});
    Metadata md;
    if (LoadInode(e.ino, &md).ok()) {
      DropLink(md, NowNs(), &dropped, &updates);
    } else {
      r->remote_ino = e.ino;
    }
  }
  if (!(s = store_->Write(updates)).ok()) return s;
  Wrote(req.path, nullptr, 0);
  if (!dropped.key.empty()) Forget(e.ino);
  --entries_;
  if (!dropped.orphan_key.empty()) ++orphans_;
  r->record = dropped.after;
  r->reclaim = dropped.reclaim;
  return Status::OK();
}

Status MetadataProvider::Links(const rpc::LinksRequest& req, rpc::RemoveReply* r) {
  std::lock_guard<std::mutex> l(InodeLock(req.ino));
  Metadata md;
  Status s = LoadInode(req.ino, &md);
  if (!s.ok()) return s;
  // As link(2) of a file whose last name went (open elsewhere, an orphan): ENOENT.
  if (req.delta > 0 && md.nlink == 0) return Status::Error(ENOENT, "the file has no name left");
  const int64_t now = NowNs();
  std::vector<KvStore::Update> updates;
  Dropped dropped;
  if (req.delta == -1) {
    DropLink(md, now, &dropped, &updates);
  } else {
    dropped.key = InodeKey(req.ino);
    dropped.operand = EncodeLinksOperand(req.delta, now);
    updates.push_back({dropped.key, dropped.operand, KvStore::Update::Op::kMerge});
    if ((s = ApplyOperand(dropped.operand, &md)).ok()) dropped.after = EncodeMetadata(md);
  }
  if (!s.ok() || !(s = store_->Write(updates)).ok()) return s;
  Forget(req.ino);
  if (!dropped.orphan_key.empty()) ++orphans_;
  r->record = dropped.after;
  r->reclaim = dropped.reclaim;
  return Status::OK();
}

Status MetadataProvider::PutEntry(const rpc::PutEntryRequest& req, rpc::PutEntryReply* r) {
  std::lock_guard<std::mutex> l(EntryLock(req.path));
  Entry old;
  Status s = LoadEntry(req.path, &old);
  if (s.ok()) {
    if (S_ISDIR(old.mode) && !S_ISDIR(req.mode)) return Status::Error(EISDIR, "target is a directory");
    if (!S_ISDIR(old.mode) && S_ISDIR(req.mode)) return Status::Error(ENOTDIR, "target is not a directory");
    r->replaced = 1;
    r->old_ino = old.ino;
    r->old_mode = old.mode;
  } else if (s.code() != ENOENT) {
    return s;
  }
  const Entry written{req.ino, req.mode & S_IFMT};
  const uint64_t generation = entry_cache_.Generation(req.path);
  if (!(s = store_->Put(req.path, EncodeEntry(written))).ok()) return s;
  Wrote(req.path, &written, generation);
  if (!r->replaced) ++entries_;
  return s;
}

Status MetadataProvider::TargetIno(const rpc::Target& target, uint64_t* ino) {
  if (target.ino != 0) {
    *ino = target.ino;
    return Status::OK();
  }
  Entry e;
  Status s = LoadEntry(target.path, &e);
  if (s.ok()) *ino = e.ino;
  return s;
}

Status MetadataProvider::Resolve(const rpc::Target& target, uint64_t* ino, Metadata* md, bool* local) {
  Status s = TargetIno(target, ino);
  if (!s.ok()) return s;
  s = LoadInode(*ino, md);
  *local = s.ok();
  // Asked by path: an inode held elsewhere is the client's second hop, not an error.
  return s.code() == ENOENT && target.ino == 0 ? Status::OK() : s;
}

Status MetadataProvider::LockTarget(const rpc::Target& target, std::unique_lock<std::mutex>* lock,
                                    uint64_t* ino, Metadata* md, uint64_t* remote) {
  Status s = TargetIno(target, ino);
  if (!s.ok()) return s;
  *lock = std::unique_lock<std::mutex>(InodeLock(*ino));
  bool local = false;
  s = Resolve(rpc::Target{target.path, *ino}, ino, md, &local);
  if (s.code() == ENOENT && target.ino == 0) {
    *remote = *ino;
    return Status::OK();
  }
  return s;
}

Status MetadataProvider::Stat(const rpc::Target& target, uint64_t opener, rpc::RecordReply* r) {
  uint64_t ino = 0;
  Metadata md;
  bool local = false;
  std::unique_lock<std::mutex> l;
  if (opener != 0) {  // an open: counted under the inode's lock, which DropLink holds too
    Status s = LockTarget(target, &l, &ino, &md, &r->remote_ino);
    if (!s.ok() || r->remote_ino != 0) return s;
    r->record = EncodeMetadata(md);
    CountOpen(opener, md);
    return Status::OK();
  }
  Status s = Resolve(target, &ino, &md, &local);
  if (!s.ok()) return s;
  if (!local) {
    r->remote_ino = ino;
    return Status::OK();
  }
  r->record = EncodeMetadata(md);
  CountOpen(opener, md);
  return Status::OK();
}

Status MetadataProvider::StatForRead(const rpc::Target& target, uint64_t opener, rpc::RecordReply* r) {
  Status s = Stat(target, opener, r);
  if (!s.ok() || r->remote_ino != 0) return s;
  Metadata md;
  if (!(s = DecodeMetadata(r->record, &md)).ok()) return s;
  constexpr int64_t kDayNs = 24LL * 3600 * 1000000000;
  const int64_t now = NowNs();
  if (md.atime_ns > md.mtime_ns && md.atime_ns > md.ctime_ns && now - md.atime_ns < kDayNs) {
    return Status::OK();
  }
  AttrUpdate atime;
  atime.atime_ns = now;
  s = store_->Merge(InodeKey(md.file_id), EncodeSetAttrOperand(atime));
  Forget(md.file_id);
  return s;
}

Status MetadataProvider::TouchDir(const rpc::TouchDirRequest& req, rpc::TouchDirReply* r) {
  std::unique_lock<std::mutex> l;
  uint64_t ino = 0;
  Metadata md;
  Status s = LockTarget(req.target, &l, &ino, &md, &r->remote_ino);
  if (!s.ok() || r->remote_ino != 0) return s;
  r->record = EncodeMetadata(md);
  if (!md.is_dir()) return Status::OK();
  Metadata after = Touched(md, NowNs(), req.nlink_delta);
  const uint64_t generation = inode_cache_.Generation(ino);
  if (!(s = store_->Put(InodeKey(ino), EncodeMetadata(after))).ok()) return s;
  Wrote(ino, after, generation);
  r->touched_ns = after.mtime_ns;
  return Status::OK();
}

Status MetadataProvider::UntouchDir(const rpc::UntouchDirRequest& req) {
  std::unique_lock<std::mutex> l;
  uint64_t ino = 0, remote = 0;
  Metadata md;
  Status s = LockTarget(req.target, &l, &ino, &md, &remote);
  if (!s.ok() || remote != 0) return s;
  if (!md.is_dir()) return Status::OK();
  md.nlink = static_cast<uint32_t>(std::max<int64_t>(0, static_cast<int64_t>(md.nlink) - req.nlink_delta));
  if (md.mtime_ns == req.touched_ns && md.ctime_ns == req.touched_ns) {
    md.mtime_ns = req.mtime_ns;
    md.ctime_ns = req.ctime_ns;
  }
  const uint64_t generation = inode_cache_.Generation(ino);
  if (!(s = store_->Put(InodeKey(ino), EncodeMetadata(md))).ok()) return s;
  Wrote(ino, md, generation);
  return s;
}

Status MetadataProvider::SetSize(const rpc::SizeRequest& req, rpc::TargetReply* r) {
  std::unique_lock<std::mutex> l;
  uint64_t ino = 0;
  Metadata md;
  Status s = LockTarget(req.target, &l, &ino, &md, &r->remote_ino);
  if (!s.ok() || r->remote_ino != 0) return s;
  if (md.is_dir()) return Status::Error(EISDIR, "is a directory");
  s = store_->Merge(InodeKey(ino), EncodeSetSizeOperand(req.size, req.mtime_ns));
  Forget(ino);
  if (s.ok()) {  // appends after a truncation start at the new end, not past the old one
    std::lock_guard<std::mutex> a(append_mu_);
    append_end_.erase(ino);
  }
  return s;
}

Status MetadataProvider::SetAttr(const rpc::SetAttrRequest& req, rpc::TargetReply* r) {
  std::unique_lock<std::mutex> l;
  uint64_t ino = 0;
  Metadata md;
  Status s = LockTarget(req.target, &l, &ino, &md, &r->remote_ino);
  if (!s.ok() || r->remote_ino != 0) return s;
  AttrUpdate update;
  update.mode = req.mode;
  update.atime_ns = req.atime_ns;
  update.mtime_ns = req.mtime_ns;
  update.ctime_ns = NowNs();
  update.uid = req.uid;
  update.gid = req.gid;
  s = store_->Merge(InodeKey(ino), EncodeSetAttrOperand(update));
  Forget(ino);
  return s;
}

Status MetadataProvider::GrowSize(uint64_t ino, uint64_t size, int64_t mtime_ns) {
  Status s = store_->Merge(InodeKey(ino), EncodeGrowOperand(size, mtime_ns));
  Forget(ino);
  return s;
}

Status MetadataProvider::ReserveAppend(uint64_t ino, uint64_t length, uint64_t* offset) {
  std::lock_guard<std::mutex> l(InodeLock(ino));
  Metadata md;
  Status s = LoadInode(ino, &md);
  if (!s.ok()) return s;
  if (md.is_dir()) return Status::Error(EISDIR, "is a directory");
  std::lock_guard<std::mutex> a(append_mu_);
  if (append_end_.size() >= kMaxAppendEnds) {
    // Forget the reservations whose bytes all arrived (the size covers them).
    for (auto it = append_end_.begin(); it != append_end_.end();) {
      Metadata other;
      bool done = it->first != ino && (!LoadInode(it->first, &other).ok() || other.size >= it->second);
      it = done ? append_end_.erase(it) : std::next(it);
    }
  }
  uint64_t& end = append_end_[ino];
  *offset = std::max(md.size, end);
  end = *offset + length;
  return Status::OK();
}

Status MetadataProvider::Rename(const std::string&, const std::string&) {
  return Status::Error(EOPNOTSUPP, "FwdRename is served only in forwarding mode: here a rename moves entries one by one");
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
    Entry e;
    if (!rest.empty() && rest > start_after && DecodeEntry(it->value(), &e).ok()) {
      if (entries->size() == max) {
        *end = false;
        break;
      }
      entries->push_back({std::string(rest), TypeOf(e.mode), e.ino});
    }
    it->Next();
  }
  return Status::OK();
}

Status MetadataProvider::Release(const rpc::ReleaseRequest& req, rpc::ReleaseReply* r) {
  for (uint64_t ino : req.inos) {
    std::lock_guard<std::mutex> l(InodeLock(ino));
    {
      std::lock_guard<std::mutex> o(opens_mu_);
      auto it = opens_.find(ino);
      if (it == opens_.end()) continue;
      auto count = it->second.find(req.opener);
      if (count == it->second.end()) continue;
      if (--count->second == 0) it->second.erase(count);
      auto session = sessions_.find(req.opener);
      if (session != sessions_.end() && --session->second.opens == 0) sessions_.erase(session);
      if (!it->second.empty()) continue;
      opens_.erase(it);
    }
    Metadata md;
    if (!LoadInode(ino, &md).ok() || md.nlink != 0) continue;
    const std::string key = InodeKey(ino), orphan = OrphanKey(ino);
    Status s = store_->Write({{key, {}, KvStore::Update::Op::kErase}, {orphan, {}, KvStore::Update::Op::kErase}});
    Forget(ino);
    if (!s.ok()) return s;
    --orphans_;
    r->reclaimed.emplace_back(ino, md.size);
  }
  return Status::OK();
}

Status MetadataProvider::Renew(const rpc::ReleaseRequest& req) {
  {
    std::lock_guard<std::mutex> o(opens_mu_);
    auto session = sessions_.find(req.opener);
    if (session != sessions_.end()) {
      session->second.expires_ns = MonotonicNs() + session_lease_ms_ * 1000000;
      return Status::OK();
    }
  }
  // Unknown here: this daemon restarted while the session held these files open.
  for (uint64_t ino : req.inos) {
    std::lock_guard<std::mutex> l(InodeLock(ino));
    Metadata md;
    if (LoadInode(ino, &md).ok()) CountOpen(req.opener, md);
  }
  return Status::OK();
}

std::vector<rpc::ReleaseRequest> MetadataProvider::ExpiredSessions() {
  const int64_t now = MonotonicNs();
  std::lock_guard<std::mutex> o(opens_mu_);
  std::unordered_map<uint64_t, size_t> expired;  // session -> index in out
  std::vector<rpc::ReleaseRequest> out;
  for (const auto& [id, session] : sessions_) {
    if (session.expires_ns > now) continue;
    expired[id] = out.size();
    out.emplace_back();
    out.back().opener = id;
  }
  if (out.empty()) return out;
  for (const auto& [ino, counts] : opens_) {
    for (const auto& [id, count] : counts) {
      auto e = expired.find(id);
      if (e != expired.end()) out[e->second].inos.insert(out[e->second].inos.end(), count, ino);
    }
  }
  return out;
}

Status MetadataProvider::Sync() { return store_->Sync(); }

}  // namespace gkfs
