// The operations of ClientImpl that add and remove directory entries beyond Create
// (Remove, Rmdir, Rename), and what they share with it: the touch of the parent directory's
// times and the directory permission checks (client_impl.h).
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <set>
#include <tuple>

#include "client/client_impl.h"
#include "common/log.h"
#include "common/metadata_codec.h"
#include "common/path_util.h"

namespace gkfs {

using transport::Call;

Call ClientImpl::TouchCall(const rpc::Target& dir, int32_t nlink_delta) {
  rpc::TouchDirRequest req;
  req.target = dir;
  req.nlink_delta = nlink_delta;
  Call call;
  call.daemon = TargetOwner(dir);
  call.verb = rpc::Verb::kTouchDir;
  call.body = rpc::EncodeBody(req);
  return call;
}

ClientImpl::DirTouch ClientImpl::DecodeTouch(const Call& touch, int32_t nlink_delta) {
  DirTouch t;
  rpc::TouchDirReply r;
  t.status = touch.status;
  if (t.status.ok()) t.status = rpc::DecodeBody(touch.reply_body, &r, "touch reply");
  if (t.status.ok() && r.remote_ino != 0) {
    t.remote = r.remote_ino;
    return t;
  }
  if (t.status.ok()) t.status = DecodeMetadata(r.record, &t.before);
  if (!t.status.ok()) return t;
  t.touched_ns = r.touched_ns;
  t.nlink_delta = r.touched_ns != 0 ? nlink_delta : 0;
  if (!t.before.is_dir()) t.status = Status::Error(ENOTDIR, "a parent is not a directory");
  return t;
}

ClientImpl::DirTouch ClientImpl::RunBesideTouch(Call* op, const rpc::Target& dir, int32_t nlink_delta,
                                                Call* extra) {
  Call touch = TouchCall(dir, nlink_delta);
  if (extra != nullptr) {
    RunCalls({op, &touch, extra});
  } else {
    RunCalls({op, &touch});
  }
  DirTouch t = DecodeTouch(touch, nlink_delta);
  if (t.remote != 0) {  // a renamed directory: its inode is elsewhere
    touch = TouchCall(rpc::Target{"", t.remote}, nlink_delta);
    CallOne(&touch);
    t = DecodeTouch(touch, nlink_delta);
  }
  // Every daemon keeps "/", so it exists whoever answers for it; with that daemon down, its
  // times are not worth failing the operation for, unless its permissions must be checked.
  bool down = t.status.code() == EHOSTDOWN || t.status.code() == EIO;
  if (dir.ino == 0 && dir.path == "/" && down && !Checking()) t.status = Status::OK();
  return t;
}

void ClientImpl::AddUntouch(const DirTouch& touch, std::vector<Call>* calls) {
  if (touch.touched_ns == 0) return;
  rpc::UntouchDirRequest req;
  req.target = rpc::Target{"", touch.before.file_id};
  req.touched_ns = touch.touched_ns;
  req.mtime_ns = touch.before.mtime_ns;
  req.ctime_ns = touch.before.ctime_ns;
  req.nlink_delta = touch.nlink_delta;
  calls->push_back(InodeCall(touch.before.file_id, rpc::Verb::kUntouchDir, rpc::EncodeBody(req)));
}

bool ClientImpl::Checking() const { return credentials_ != nullptr && !credentials_->Privileged(); }

Status ClientImpl::CheckSearch(const Metadata& dir) const {
  if (!Checking() || credentials_->MayAccess(dir, X_OK)) return Status::OK();
  return Status::Error(EACCES, "no search permission on the directory");
}

Status ClientImpl::CheckModify(const Metadata& dir, const Metadata* entry) const {
  if (!Checking()) return Status::OK();
  if (!credentials_->MayAccess(dir, W_OK | X_OK)) {
    return Status::Error(EACCES, "no write permission on the directory");
  }
  if (entry != nullptr && (dir.mode & S_ISVTX) && !credentials_->Owns(*entry) && !credentials_->Owns(dir)) {
    return Status::Error(EPERM, "the directory's sticky bit protects the entry");
  }
  return Status::OK();
}

Status ClientImpl::DropLinkLocked(uint64_t ino, Metadata* after, uint8_t* reclaim) {
  rpc::LinksRequest req;
  req.ino = ino;
  req.delta = -1;
  Call call = InodeCall(ino, rpc::Verb::kLinks, rpc::EncodeBody(req));
  Status s = CallOne(&call);
  rpc::RemoveReply r;
  if (s.ok()) s = rpc::DecodeBody(call.reply_body, &r, "links reply");
  if (s.ok()) s = DecodeMetadata(r.record, after);
  *reclaim = s.ok() ? r.reclaim : 0;
  return s;
}

Status ClientImpl::ReclaimLocked(const Metadata& md, uint8_t reclaim) {
  // An empty file has no chunks (truncation to 0 removed them; the size covers every byte
  // written), so its removal asks no chunk daemon. Only the chunks of a write whose size
  // update never arrived (a client killed mid-write) stay behind.
  if (reclaim == 0 || !md.is_regular() || md.size == 0) return Status::OK();
  std::vector<uint32_t> owners = ChunkOwners(md.file_id, md.size);
  if (reclaim == rpc::kReclaimedHere) {
    if (owners.empty()) owners = routing_->Sharers();  // ChunkOwners: empty is every daemon
    owners.erase(std::remove(owners.begin(), owners.end(), InodeOwner(md.file_id)), owners.end());
    if (owners.empty()) return Status::OK();  // the home held them all
  }
  rpc::FileSizeRequest chunks;
  chunks.file_id = md.file_id;
  return Broadcast(rpc::Verb::kRemoveChunks, rpc::EncodeBody(chunks), owners);
}

Status ClientImpl::CheckEntryChangeLocked(const std::string& path, bool adding) {
  if (!Checking()) return Status::OK();
  const std::string parent = ParentPath(path);
  std::vector<Call> stats;
  for (const std::string* p : {&parent, &path}) {
    stats.push_back(StatCall(*p));
  }
  RunAll(stats);
  Metadata dir, entry;
  Status s = DecodeStat(stats[0], &dir);
  if (s.ok() && !dir.is_dir()) s = Status::Error(ENOTDIR, "a parent is not a directory");
  if (s.ok()) s = CheckSearch(dir);
  Status es = DecodeStat(stats[1], &entry);
  // Adding a name that exists changes nothing (EEXIST, or an open); removing one that does
  // not is ENOENT from the removal itself.
  if (s.ok() && (es.code() == ENOENT) == adding) s = CheckModify(dir, es.ok() ? &entry : nullptr);
  return s;
}

Status ClientImpl::RemoveEntryLocked(const std::string& path, uint8_t kind, Metadata* removed, uint8_t* reclaim,
                                     rpc::ReleaseRequest release) {
  *reclaim = 0;
  const std::string parent = ParentPath(path);
  const int32_t subdir = (kind & 3) == 2 ? -1 : 0;
  // A removal cannot be put back once the inode is gone: check before removing.
  Status checked = CheckEntryChangeLocked(path, false);
  if (!checked.ok()) {
    if (!release.inos.empty()) ReleaseLocked(release.opener, release.inos);
    return checked;
  }
  rpc::RemoveRequest req;
  req.path = path;
  req.kind = kind;
  DirTouch dir;
  Status rs;
  uint64_t remote = 0;
  rpc::ReleaseReply released;  // what the releases that went along reclaimed
  bool in_dir = OneOwnerWithParent(path, parent);
  if (in_dir) {
    req.release = std::move(release);
    release.inos.clear();  // once sent, applied (or gone with the daemon): never sent again
    Call call = MetaCall(path, rpc::Verb::kRemoveInDir, rpc::EncodeBody(req));
    req.release.inos.clear();
    CallOne(&call);
    rpc::InDirReply r;
    rs = DecodeInDir(call, &dir, &r);
    released = std::move(r.released);
    in_dir = dir.remote == 0;
    if (in_dir && rs.ok()) {
      remote = r.remote_ino;
      *reclaim = r.reclaim;
      if (remote == 0 && !(kind & rpc::kEntryOnly)) rs = DecodeMetadata(r.record, removed);
    }
  }
  if (!in_dir) {
    Call call = MetaCall(path, rpc::Verb::kRemove, rpc::EncodeBody(req));
    Call give_back;  // Remove carries no releases: they go beside it, to the same daemon
    if (!release.inos.empty()) give_back = MetaCall(path, rpc::Verb::kRelease, rpc::EncodeBody(release));
    dir = RunBesideTouch(&call, dir.remote != 0 ? rpc::Target{"", dir.remote} : rpc::Target{parent, 0}, subdir,
                         release.inos.empty() ? nullptr : &give_back);
    if (give_back.status.ok() && !release.inos.empty()) {
      rpc::DecodeBody(give_back.reply_body, &released, "release reply");
    }
    rs = call.status;
    rpc::RemoveReply r;
    if (rs.ok()) rs = rpc::DecodeBody(call.reply_body, &r, "remove reply");
    if (rs.ok()) {
      remote = r.remote_ino;
      *reclaim = r.reclaim;
      if (remote == 0 && !(kind & rpc::kEntryOnly)) rs = DecodeMetadata(r.record, removed);
    }
  }
  Status s = dir.status.ok() ? rs : dir.status;
  // The name is gone once the removal succeeded, whatever the parent's touch did: its
  // inode elsewhere loses the link (and its data, the caller's reclaim) all the same.
  if (rs.ok() && remote != 0) {
    Status dropped = DropLinkLocked(remote, removed, reclaim);
    if (s.ok()) s = dropped;
  }
  // The released orphans' chunks are a separate matter: a daemon that cannot take them now
  // must not fail this removal (its name is gone) nor keep the removed file's own reclaim
  // from running.
  Status orphans = ReclaimReleased(released);
  if (!orphans.ok()) GKFS_LOG(kError, "reclaiming released orphans' chunks: " + orphans.message());
  if (!s.ok()) {
    std::vector<Call> undo;
    if (!rs.ok()) AddUntouch(dir, &undo);  // the entry stayed: the parent's times go back
    if (!undo.empty()) RunAll(undo);
  }
  return s;
}

Status ClientImpl::Remove(const std::string& path) {
  if (path == "/") return Status::Error(EISDIR, "cannot remove the root directory");
  Metadata md;
  uint8_t reclaim = 0;
  Status s = RemoveEntryLocked(path, 1, &md, &reclaim);
  return s.ok() ? ReclaimLocked(md, reclaim) : s;
}

Status ClientImpl::RemoveReleasing(const std::string& path, uint64_t opener, std::vector<uint64_t>* owed) {
  if (routing_->by_path()) owed->clear();  // a store of paths counts no opens
  if (path == "/" || owed->empty()) return Remove(path);
  // The opens ended at path's daemon go with the removal (at most one Release's worth).
  const uint32_t here = MetadataOwner(path);
  rpc::ReleaseRequest release;
  release.opener = opener;
  auto kept = std::remove_if(owed->begin(), owed->end(), [&](uint64_t ino) {
    if (InodeOwner(ino) != here || release.inos.size() >= rpc::kMaxRelease) return false;
    release.inos.push_back(ino);
    return true;
  });
  owed->erase(kept, owed->end());
  if (leases_ != nullptr) leases_->Released(opener, release.inos);
  Metadata md;
  uint8_t reclaim = 0;
  Status s = RemoveEntryLocked(path, 1, &md, &reclaim, std::move(release));
  return s.ok() ? ReclaimLocked(md, reclaim) : s;
}

Status ClientImpl::Rmdir(const std::string& path) {
  if (path == "/") return Status::Error(EBUSY, "cannot remove the root directory");
  std::vector<DirEntry> entries;
  bool end = true;
  const std::string parent = ParentPath(path);
  Call parent_stat = StatCall(parent);
  Status s = ReadDirLocked(path, "", 1, true, &entries, &end, Checking() ? &parent_stat : nullptr);
  if (Checking()) {  // Linux's order: search permission, the entry, write permission
    Metadata pm;
    Status ps = DecodeStat(parent_stat, &pm);
    if (ps.ok()) ps = CheckSearch(pm);
    if (ps.ok() && s.ok() && !entries.empty()) ps = CheckModify(pm, nullptr);
    if (!ps.ok()) return ps;
  }
  if (!s.ok()) return s;
  if (!entries.empty()) return Status::Error(ENOTEMPTY, "directory not empty");
  Metadata removed;
  uint8_t reclaim = 0;
  return RemoveEntryLocked(path, 2, &removed, &reclaim);
}

Status ClientImpl::CheckRenameLocked(const std::string& old_path, const Metadata& md,
                                     const std::string& new_path) {
  if (!Checking()) return Status::OK();
  const std::string old_parent = ParentPath(old_path), new_parent = ParentPath(new_path);
  Metadata from, to, target;
  Status s = StatLocked(old_parent, &from);
  if (s.ok()) s = StatLocked(new_parent, &to);
  if (!s.ok() || !to.is_dir()) return s;  // the rename itself reports a parent that is no directory
  if (!(s = CheckSearch(from)).ok() || !(s = CheckSearch(to)).ok()) return s;
  if (!(s = CheckModify(from, &md)).ok()) return s;
  bool replacing = StatLocked(new_path, &target).ok();
  if (!(s = CheckModify(to, replacing ? &target : nullptr)).ok()) return s;
  // A directory moving to another parent rewrites its "..": write permission on it.
  if (md.is_dir() && old_parent != new_parent && !credentials_->MayAccess(md, W_OK)) {
    return Status::Error(EACCES, "no write permission on the directory moved");
  }
  return Status::OK();
}

Status ClientImpl::Rename(const std::string& old_path, const std::string& new_path) {
  Call stats[] = {StatCall(old_path), StatCall(new_path)};  // both names in one round trip
  RunCalls({&stats[0], &stats[1]});
  Metadata md;
  Status s = DecodeStat(stats[0], &md);
  if (!s.ok()) return s;
  if (old_path == new_path) return Status::OK();
  if (!(s = CheckRenameLocked(old_path, md, new_path)).ok()) return s;
  const std::string old_parent = ParentPath(old_path), new_parent = ParentPath(new_path);
  if (md.is_dir()) {
    if (old_path == "/" || new_path.compare(0, old_path.size() + 1, old_path + "/") == 0) {
      return Status::Error(EINVAL, "cannot move a directory into itself");
    }
  }
  Metadata target;
  Status ts = DecodeStat(stats[1], &target);
  if (ts.ok() && target.file_id == md.file_id) return Status::OK();  // two names of one inode
  if (!ts.ok() && ts.code() != ENOENT) return ts;
  if (routing_->by_path()) return RenameByPathLocked(old_path, new_path);
  // A directory counts in its parent's link count: the old parent loses it, the new one
  // gains it unless it replaces a directory there (which goes); one parent: the sum.
  const int32_t leaves = md.is_dir() ? -1 : 0;
  const int32_t arrives = md.is_dir() && !ts.ok() ? 1 : 0;
  std::vector<Call> touches;
  if (new_parent == old_parent) {
    touches.push_back(TouchCall(rpc::Target{old_parent, 0}, leaves + arrives));
  } else {
    touches.push_back(TouchCall(rpc::Target{old_parent, 0}, leaves));
    touches.push_back(TouchCall(rpc::Target{new_parent, 0}, arrives));
  }
  if (md.is_dir()) return RenameDirectoryLocked(old_path, md, new_path, std::move(touches));
  return RenameFileLocked(old_path, md, new_path, std::move(touches));
}

// rename(2) on the store gives its own errors (EISDIR, ENOTDIR, ENOTEMPTY) and keeps the
// parents' times and link counts itself.
Status ClientImpl::RenameByPathLocked(const std::string& old_path, const std::string& new_path) {
  rpc::RenameRequest req;
  req.old_path = old_path;
  req.new_path = new_path;
  Call call = MetaCall(old_path, rpc::Verb::kFwdRename, rpc::EncodeBody(req));
  return CallOne(&call);
}

Call ClientImpl::CtimeCall(uint64_t ino) {
  rpc::SetAttrRequest ctime;
  ctime.target = rpc::Target{"", ino};
  return InodeCall(ino, rpc::Verb::kSetAttr, rpc::EncodeBody(ctime));
}

Status ClientImpl::FinishRenameLocked(std::vector<Call> last, uint64_t moved_ino, uint64_t replaced_ino) {
  last.push_back(CtimeCall(moved_ino));  // rename(2) changes the moved inode's ctime
  Status s = RunAll(last);
  // A parent whose inode lives elsewhere (a renamed directory) answered with its id: touch
  // it at its home, with the same link-count change.
  std::vector<Call> second;
  for (const Call& call : last) {
    rpc::TouchDirReply reply;
    rpc::TouchDirRequest req;
    if (call.verb != rpc::Verb::kTouchDir || !call.status.ok() ||
        !rpc::DecodeBody(call.reply_body, &reply, "touch reply").ok() || reply.remote_ino == 0 ||
        !rpc::DecodeBody(call.body, &req, "touch").ok()) {
      continue;
    }
    second.push_back(TouchCall(rpc::Target{"", reply.remote_ino}, req.nlink_delta));
  }
  if (!second.empty()) {
    Status t = RunAll(second);
    if (s.ok()) s = t;
  }
  // What new_path named before lost its name with the PutEntry: drop its link even when a
  // later step failed, or it would keep nlink >= 1 and its data with no name.
  if (replaced_ino == 0) return s;
  Metadata after;
  uint8_t reclaim = 0;
  Status dropped = DropLinkLocked(replaced_ino, &after, &reclaim);
  if (dropped.ok()) dropped = ReclaimLocked(after, reclaim);
  return s.ok() ? dropped : s;
}

namespace {
Status DecodePutEntry(const Call& call, rpc::PutEntryReply* r) {
  return call.status.ok() ? rpc::DecodeBody(call.reply_body, r, "put entry reply") : call.status;
}
}  // namespace

Status ClientImpl::RenameFileLocked(const std::string& old_path, const Metadata& md,
                                    const std::string& new_path, std::vector<Call> touches) {
  const std::string parent = ParentPath(new_path);
  Status s;
  if (parent != "/") {
    Metadata parent_md;
    s = StatLocked(parent, &parent_md);
    if (!s.ok()) return s;
    if (!parent_md.is_dir()) return Status::Error(ENOTDIR, "target parent is not a directory");
  }
  rpc::PutEntryRequest put;
  put.path = new_path;
  put.ino = md.file_id;
  put.mode = md.mode;
  Call call = MetaCall(new_path, rpc::Verb::kPutEntry, rpc::EncodeBody(put));
  CallOne(&call);
  rpc::PutEntryReply reply;
  if (!(s = DecodePutEntry(call, &reply)).ok()) return s;
  rpc::RemoveRequest rm;
  rm.path = old_path;
  rm.kind = rpc::kEntryOnly;
  touches.push_back(MetaCall(old_path, rpc::Verb::kRemove, rpc::EncodeBody(rm)));
  return FinishRenameLocked(std::move(touches), md.file_id, reply.replaced ? reply.old_ino : 0);
}

Status ClientImpl::RenameDirectoryLocked(const std::string& old_path, const Metadata& md,
                                         const std::string& new_path, std::vector<Call> touches) {
  Metadata target;
  Status s = StatLocked(new_path, &target);
  if (s.ok()) {
    if (!target.is_dir()) return Status::Error(ENOTDIR, "target is not a directory");
    std::vector<DirEntry> one;
    bool end = true;
    if (!(s = ReadDirLocked(new_path, "", 1, false, &one, &end)).ok()) return s;
    if (!one.empty()) return Status::Error(ENOTEMPTY, "target directory not empty");
  } else if (s.code() != ENOENT) {
    return s;
  }
  const std::string parent = ParentPath(new_path);
  Metadata parent_md;
  if (!(s = StatLocked(parent, &parent_md)).ok()) return s;
  if (!parent_md.is_dir()) return Status::Error(ENOTDIR, "target parent is not a directory");

  // Inodes stay where they are; only the names move.
  std::vector<rpc::PutEntryRequest> tree;
  if (!(s = SubtreeLocked(old_path, md, &tree)).ok()) return s;
  std::vector<Call> puts;
  for (const auto& entry : tree) {
    rpc::PutEntryRequest put = entry;
    put.path = new_path + entry.path.substr(old_path.size());
    puts.push_back(MetaCall(put.path, rpc::Verb::kPutEntry, rpc::EncodeBody(put)));
  }
  if (!(s = RunAll(puts)).ok()) return s;
  rpc::PutEntryReply top;
  if (!(s = DecodePutEntry(puts[0], &top)).ok()) return s;
  std::vector<Call> removes;
  for (auto it = tree.rbegin(); it != tree.rend(); ++it) {
    rpc::RemoveRequest rm;
    rm.path = it->path;
    rm.kind = rpc::kEntryOnly;
    removes.push_back(MetaCall(rm.path, rpc::Verb::kRemove, rpc::EncodeBody(rm)));
  }
  for (Call& t : touches) removes.push_back(std::move(t));
  return FinishRenameLocked(std::move(removes), md.file_id, top.replaced ? top.old_ino : 0);
}


Status ClientImpl::SubtreeLocked(const std::string& top, const Metadata& md,
                                 std::vector<rpc::PutEntryRequest>* tree) {
  *tree = {{top, md.file_id, md.mode}};
  for (size_t next = 0; next < tree->size(); ++next) {
    if (!S_ISDIR((*tree)[next].mode)) continue;
    const std::string dir = (*tree)[next].path;
    std::vector<DirEntry> page;
    std::string after;
    for (bool end = false; !end;) {
      Status s = ReadDirLocked(dir, after, rpc::kMaxReadDirPage, false, &page, &end);
      if (!s.ok()) return s;
      if (page.empty()) break;
      after = page.back().name;
      for (const auto& e : page) tree->push_back({ChildPrefix(dir) + e.name, e.ino, DTTOIF(e.type)});
    }
  }
  return Status::OK();
}

namespace {
bool Inside(const std::string& dir, const std::string& path) {
  return dir == "/" || path.compare(0, dir.size() + 1, dir + "/") == 0;
}
}  // namespace

// Each side's entries are put under the other's name (PutEntry replaces an entry of the same
// type; one whose type changes goes first), then the names only the old side had go. No
// link count of the two inodes changes; a parent's does when a directory and a non-directory
// swap between two parents.
Status ClientImpl::Exchange(const std::string& a, const std::string& b) {
  if (routing_->by_path()) {
    return Status::Error(EINVAL, "RENAME_EXCHANGE is not supported in forwarding mode");
  }
  Call stats[] = {StatCall(a), StatCall(b)};  // both names in one round trip
  RunCalls({&stats[0], &stats[1]});
  Metadata ma, mb;
  Status s = DecodeStat(stats[0], &ma);
  if (s.ok()) s = DecodeStat(stats[1], &mb);
  if (!s.ok()) return s;
  if (a == b || ma.file_id == mb.file_id) return Status::OK();
  if ((ma.is_dir() && Inside(a, b)) || (mb.is_dir() && Inside(b, a))) {
    return Status::Error(EINVAL, "cannot exchange a directory with a name inside it");
  }
  if (!(s = CheckRenameLocked(a, ma, b)).ok() || !(s = CheckRenameLocked(b, mb, a)).ok()) return s;
  std::vector<rpc::PutEntryRequest> ta, tb;
  if (!(s = SubtreeLocked(a, ma, &ta)).ok() || !(s = SubtreeLocked(b, mb, &tb)).ok()) return s;
  std::map<std::string, uint32_t> type_now;  // every path of both sides -> what it names now
  for (const auto* t : {&ta, &tb}) {
    for (const auto& e : *t) type_now[e.path] = e.mode & S_IFMT;
  }
  auto remove_call = [this](const std::string& path) {
    rpc::RemoveRequest rm;
    rm.path = path;
    rm.kind = rpc::kEntryOnly;
    return MetaCall(path, rpc::Verb::kRemove, rpc::EncodeBody(rm));
  };
  std::vector<Call> retyped, puts, gone;
  std::set<std::string> kept;
  for (auto [from, to, tree] : {std::tuple{&a, &b, &ta}, std::tuple{&b, &a, &tb}}) {
    for (const auto& e : *tree) {
      rpc::PutEntryRequest put{*to + e.path.substr(from->size()), e.ino, e.mode};
      auto now = type_now.find(put.path);
      if (now != type_now.end() && now->second != (put.mode & S_IFMT)) retyped.push_back(remove_call(put.path));
      kept.insert(put.path);
      puts.push_back(MetaCall(put.path, rpc::Verb::kPutEntry, rpc::EncodeBody(put)));
    }
  }
  for (auto it = type_now.rbegin(); it != type_now.rend(); ++it) {  // children before parents
    if (!kept.count(it->first)) gone.push_back(remove_call(it->first));
  }
  if (!(s = RunAll(retyped)).ok() || !(s = RunAll(puts)).ok()) return s;
  const std::string pa = ParentPath(a), pb = ParentPath(b);
  const int32_t to_a = int32_t{mb.is_dir()} - int32_t{ma.is_dir()};  // pa's link count change
  gone.push_back(TouchCall(rpc::Target{pa, 0}, pa == pb ? 0 : to_a));
  if (pa != pb) gone.push_back(TouchCall(rpc::Target{pb, 0}, -to_a));
  gone.push_back(CtimeCall(mb.file_id));
  return FinishRenameLocked(std::move(gone), ma.file_id, 0);
}

}  // namespace gkfs
