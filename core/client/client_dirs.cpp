// The operations of ClientImpl that add and remove directory entries beyond Create
// (Remove, Rmdir, Rename), and what they share with it: the touch of the parent directory's
// times and the directory permission checks (client_impl.h).
#include <sys/stat.h>
#include <unistd.h>

#include "client/client_impl.h"
#include "common/metadata_codec.h"
#include "common/path_util.h"

namespace gkfs {

using transport::Call;

Call ClientImpl::TouchCall(const std::string& dir) {
  return MetaCall(dir, rpc::Verb::kTouchDir, rpc::EncodeBody(rpc::PathRequest{dir}));
}

ClientImpl::DirTouch ClientImpl::DecodeTouch(const Call& touch) {
  DirTouch t;
  rpc::TouchDirReply r;
  t.status = touch.status;
  if (t.status.ok()) t.status = rpc::DecodeBody(touch.reply_body, &r, "touch reply");
  if (t.status.ok()) t.status = DecodeMetadata(r.record, &t.before);
  if (!t.status.ok()) return t;
  t.touched_ns = r.touched_ns;
  if (!t.before.is_dir()) t.status = Status::Error(ENOTDIR, "a parent is not a directory");
  return t;
}

ClientImpl::DirTouch ClientImpl::RunBesideTouch(Call* op, const std::string& dir) {
  Call touch = TouchCall(dir);
  RunCalls({op, &touch});
  DirTouch t = DecodeTouch(touch);
  // Every daemon keeps "/", so it exists whoever answers for it; with that daemon down, its
  // times are not worth failing the operation for, unless its permissions must be checked.
  bool down = t.status.code() == EHOSTDOWN || t.status.code() == EIO;
  if (dir == "/" && down && !Checking()) t.status = Status::OK();
  return t;
}

void ClientImpl::AddUntouch(const std::string& dir, const DirTouch& touch, std::vector<Call>* calls) {
  if (touch.touched_ns == 0) return;
  rpc::UntouchDirRequest req;
  req.path = dir;
  req.touched_ns = touch.touched_ns;
  req.mtime_ns = touch.before.mtime_ns;
  req.ctime_ns = touch.before.ctime_ns;
  calls->push_back(MetaCall(dir, rpc::Verb::kUntouchDir, rpc::EncodeBody(req)));
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

Status ClientImpl::RemoveEntryLocked(const std::string& path, uint8_t kind, Metadata* removed) {
  rpc::RemoveRequest req;
  req.path = path;
  req.kind = kind;
  const std::string parent = ParentPath(path);
  DirTouch dir;
  Status rs;
  if (OneOwnerWithParent(path, parent)) {
    Call call = MetaCall(path, rpc::Verb::kRemoveInDir, rpc::EncodeBody(req));
    CallOne(&call);
    bool done = false;
    rs = DecodeInDir(call, &dir, removed, &done);
  } else {
    Call remove = MetaCall(path, rpc::Verb::kRemove, rpc::EncodeBody(req));
    dir = RunBesideTouch(&remove, parent);
    rs = DecodeRecord(remove, removed);
  }
  Status s = dir.status;
  if (s.ok()) s = CheckSearch(dir.before);
  if (s.ok() && rs.code() != ENOENT) s = CheckModify(dir.before, rs.ok() ? removed : nullptr);
  if (s.ok()) s = rs;
  if (s.ok()) return s;
  std::vector<Call> undo;
  if (rs.ok()) {  // removed, but not allowed to: put it back
    rpc::PutRecordRequest put;
    put.path = path;
    put.record = EncodeMetadata(*removed);
    undo.push_back(MetaCall(path, rpc::Verb::kPutRecord, rpc::EncodeBody(put)));
  }
  AddUntouch(parent, dir, &undo);
  if (!undo.empty()) RunAll(undo);
  return s;
}

Status ClientImpl::Remove(const std::string& path) {
  std::lock_guard<std::mutex> l(mu_);
  if (path == "/") return Status::Error(EISDIR, "cannot remove the root directory");
  Metadata md;
  Status s = RemoveEntryLocked(path, 1, &md);
  // An empty file has no chunks (truncation to 0 removed them; a write grows the size in
  // the same round trip as its chunks), so its removal asks no chunk daemon. Only the chunks
  // of a write whose size update never arrived (a client killed mid-write) stay behind.
  if (!s.ok() || md.file_id == 0 || md.size == 0) return s;
  rpc::FileSizeRequest chunks;
  chunks.file_id = md.file_id;
  return Broadcast(rpc::Verb::kRemoveChunks, rpc::EncodeBody(chunks), ChunkOwners(md.file_id, md.size));
}

Status ClientImpl::Rmdir(const std::string& path) {
  std::lock_guard<std::mutex> l(mu_);
  if (path == "/") return Status::Error(EBUSY, "cannot remove the root directory");
  std::vector<DirEntry> entries;
  bool end = true;
  const std::string parent = ParentPath(path);
  Call parent_stat = MetaCall(parent, rpc::Verb::kStat, rpc::EncodeBody(rpc::PathRequest{parent}));
  Status s = ReadDirLocked(path, "", 1, true, &entries, &end, Checking() ? &parent_stat : nullptr);
  if (Checking()) {  // Linux's order: search permission, the entry, write permission
    Metadata pm;
    Status ps = DecodeRecord(parent_stat, &pm);
    if (ps.ok()) ps = CheckSearch(pm);
    if (ps.ok() && s.ok() && !entries.empty()) ps = CheckModify(pm, nullptr);
    if (!ps.ok()) return ps;
  }
  if (!s.ok()) return s;
  if (!entries.empty()) return Status::Error(ENOTEMPTY, "directory not empty");
  Metadata removed;
  return RemoveEntryLocked(path, 2, &removed);
}

Status ClientImpl::CheckRenameLocked(const std::string& old_path, const Metadata& md,
                                     const std::string& new_path) {
  if (!Checking()) return Status::OK();
  const std::string old_parent = ParentPath(old_path), new_parent = ParentPath(new_path);
  std::vector<Call> stats;
  for (const std::string* p : {&old_parent, &new_parent, &new_path}) {
    stats.push_back(MetaCall(*p, rpc::Verb::kStat, rpc::EncodeBody(rpc::PathRequest{*p})));
  }
  RunAll(stats);
  Metadata from, to, target;
  Status s = DecodeRecord(stats[0], &from);
  if (s.ok()) s = DecodeRecord(stats[1], &to);
  if (!s.ok() || !to.is_dir()) return s;  // the rename itself reports a parent that is no directory
  if (!(s = CheckSearch(from)).ok() || !(s = CheckSearch(to)).ok()) return s;
  if (!(s = CheckModify(from, &md)).ok()) return s;
  bool replacing = DecodeRecord(stats[2], &target).ok();
  if (!(s = CheckModify(to, replacing ? &target : nullptr)).ok()) return s;
  // A directory moving to another parent rewrites its "..": write permission on it.
  if (md.is_dir() && old_parent != new_parent && !credentials_->MayAccess(md, W_OK)) {
    return Status::Error(EACCES, "no write permission on the directory moved");
  }
  return Status::OK();
}

Status ClientImpl::Rename(const std::string& old_path, const std::string& new_path) {
  std::lock_guard<std::mutex> l(mu_);
  Metadata md;
  Status s = StatLocked(old_path, &md);
  if (!s.ok()) return s;
  if (old_path == new_path) return Status::OK();
  if (!(s = CheckRenameLocked(old_path, md, new_path)).ok()) return s;
  std::vector<Call> touches{TouchCall(ParentPath(old_path))};
  if (ParentPath(new_path) != ParentPath(old_path)) touches.push_back(TouchCall(ParentPath(new_path)));
  if (md.is_dir()) return RenameDirectoryLocked(old_path, md, new_path, std::move(touches));
  return RenameFileLocked(old_path, md, new_path, std::move(touches));
}

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
  rpc::PutRecordRequest put;
  put.path = new_path;
  put.record = EncodeMetadata(md);
  Call call = MetaCall(new_path, rpc::Verb::kPutRecord, rpc::EncodeBody(put));
  s = CallOne(&call);
  if (!s.ok()) return s;
  rpc::PutRecordReply reply;
  s = rpc::DecodeBody(call.reply_body, &reply, "put record reply");
  if (!s.ok()) return s;
  rpc::RemoveRequest rm;
  rm.path = old_path;
  Call remove = MetaCall(old_path, rpc::Verb::kRemove, rpc::EncodeBody(rm));
  std::vector<Call*> last{&remove};
  for (Call& t : touches) last.push_back(&t);
  RunCalls(last);
  if (!(s = remove.status).ok()) return s;
  Metadata old_target;
  if (reply.replaced && DecodeMetadata(reply.old_record, &old_target).ok() && old_target.file_id != 0 &&
      old_target.file_id != md.file_id) {
    rpc::FileSizeRequest chunks;
    chunks.file_id = old_target.file_id;
    return Broadcast(rpc::Verb::kRemoveChunks, rpc::EncodeBody(chunks),
                     ChunkOwners(old_target.file_id, old_target.size));
  }
  return Status::OK();
}


Status ClientImpl::RenameDirectoryLocked(const std::string& old_path, const Metadata& md,
                                         const std::string& new_path, std::vector<Call> touches) {
  if (old_path == "/" || new_path.compare(0, old_path.size() + 1, old_path + "/") == 0) {
    return Status::Error(EINVAL, "cannot move a directory into itself");
  }
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

  // The subtree, parents before children: every path and its record.
  std::vector<std::pair<std::string, std::string>> tree{{old_path, EncodeMetadata(md)}};
  for (size_t next = 0; next < tree.size(); ++next) {
    Metadata dir;
    if (!DecodeMetadata(tree[next].second, &dir).ok() || !dir.is_dir()) continue;
    std::vector<DirEntry> page;
    std::string after;
    for (bool end = false; !end;) {
      if (!(s = ReadDirLocked(tree[next].first, after, rpc::kMaxReadDirPage, false, &page, &end)).ok()) return s;
      if (page.empty()) break;
      after = page.back().name;
      std::vector<Call> stats;
      for (const auto& e : page) {
        std::string child = ChildPrefix(tree[next].first) + e.name;
        stats.push_back(MetaCall(child, rpc::Verb::kStat, rpc::EncodeBody(rpc::PathRequest{child})));
      }
      if (!(s = RunAll(stats)).ok()) return s;
      for (size_t i = 0; i < page.size(); ++i) {
        rpc::RecordReply r;
        if (!(s = rpc::DecodeBody(stats[i].reply_body, &r, "record reply")).ok()) return s;
        tree.emplace_back(ChildPrefix(tree[next].first) + page[i].name, std::move(r.record));
      }
    }
  }
  // Copy every record to its new name, then drop the old names (children first).
  std::vector<Call> puts;
  for (const auto& [path, record] : tree) {
    rpc::PutRecordRequest put;
    put.path = new_path + path.substr(old_path.size());
    put.record = record;
    puts.push_back(MetaCall(put.path, rpc::Verb::kPutRecord, rpc::EncodeBody(put)));
  }
  if (!(s = RunAll(puts)).ok()) return s;
  std::vector<Call> removes;
  for (auto it = tree.rbegin(); it != tree.rend(); ++it) {
    rpc::RemoveRequest rm;
    rm.path = it->first;
    removes.push_back(MetaCall(rm.path, rpc::Verb::kRemove, rpc::EncodeBody(rm)));
  }
  for (Call& t : touches) removes.push_back(std::move(t));
  return RunAll(removes);
}

}  // namespace gkfs
