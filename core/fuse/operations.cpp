// libfuse low-level operations over the core Client. Each is a straight line: resolve the
// node to its path (NodeTable), call the Client, reply. Errors are the Status's errno; a
// reply is sent exactly once on every path.
#include <fcntl.h>
#include <dirent.h>
#include <linux/fs.h>
#include <sys/statvfs.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "common/access.h"
#include "common/clock.h"
#include "common/path_util.h"
#include "common/posix_stat.h"
#include "fuse/caller.h"
#include "fuse/filesystem.h"

namespace gkfs::fuse {
namespace {

// What an open file handle (fi->fh) holds: the inode, and the path forwarding mode needs.
struct OpenFile {
  std::string path;
  uint64_t ino = 0;
  bool append = false;
};

// An open directory: its listing, taken at opendir ("." and ".." first).
struct OpenDir {
  std::string path;
  std::vector<DirEntry> entries;
};

Filesystem& Fs(fuse_req_t req) { return *static_cast<Filesystem*>(fuse_req_userdata(req)); }

int Errno(const Status& s) { return s.code() > 0 ? s.code() : EIO; }

uint32_t Tid(fuse_req_t req) { return static_cast<uint32_t>(fuse_req_ctx(req)->pid); }

void FillAttr(const Filesystem& fs, const Metadata& md, struct stat* st) {
  FillStat(md, fs.client->config().device_id, fs.client->config().chunk_size, 0, st);
}

// The caller of req, checked by gkfs-fuse unless the kernel checks (default_permissions).
Caller CallerOf(fuse_req_t req) { return Caller(req, !Fs(req).kernel_checks_permissions); }

// The path of node `node`; false (and the reply sent) when it has none.
bool PathOf(fuse_req_t req, fuse_ino_t node, std::string* path, uint64_t* ino = nullptr) {
  uint64_t unused;
  if (!Fs(req).nodes->Get(node, path, ino != nullptr ? ino : &unused) || path->empty()) {
    fuse_reply_err(req, ENOENT);
    return false;
  }
  return true;
}

bool ChildOf(fuse_req_t req, fuse_ino_t parent, const char* name, std::string* path) {
  std::string dir;
  if (!PathOf(req, parent, &dir)) return false;
  if (std::strlen(name) > NAME_MAX) {
    fuse_reply_err(req, ENAMETOOLONG);
    return false;
  }
  *path = ChildPath(dir, name);
  return true;
}

// A new name's entry for the kernel: the node remembered with one lookup.
void ReplyEntry(fuse_req_t req, const std::string& path, const Metadata& md) {
  Filesystem& fs = Fs(req);
  fuse_entry_param e{};
  e.ino = fs.nodes->Remember(path, md.file_id);
  e.attr_timeout = fs.cache.attr_timeout;
  e.entry_timeout = fs.cache.entry_timeout;
  FillAttr(fs, md, &e.attr);
  fs.recent.Remember(e.ino, Tid(req), e.attr, MonotonicNs());
  if (fuse_reply_entry(req, &e) != 0) fs.nodes->Forget(e.ino, 1);
}

// Stats path and replies with its entry (after mkdir, symlink, link, mknod).
void ReplyEntryOf(fuse_req_t req, const std::string& path) {
  Metadata md;
  Status s = Fs(req).client->Stat(path, &md);
  if (!s.ok()) return (void)fuse_reply_err(req, Errno(s));
  ReplyEntry(req, path, md);
}

// The Client creates as this process's user; the caller's ids go on afterwards.
Status OwnByCaller(fuse_req_t req, const std::string& path, uint64_t ino, Metadata* md) {
  const fuse_ctx* ctx = fuse_req_ctx(req);
  if (ctx->uid == md->uid && ctx->gid == md->gid) return Status::OK();
  Status s = ino != 0 ? Fs(req).client->SetAttrFile(path, ino, -1, -1, -1, ctx->uid, ctx->gid)
                      : Fs(req).client->SetAttr(path, -1, -1, -1, ctx->uid, ctx->gid);
  md->uid = ctx->uid;
  md->gid = ctx->gid;
  return s;
}

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch()).count();
}

int64_t Ns(const struct timespec& ts) { return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec; }

// Large requests (1 MiB, as the preload's writes reach the daemons) and, with --cache, the
// kernel's writeback cache.
void Init(void* userdata, fuse_conn_info* conn) {
  auto* fs = static_cast<Filesystem*>(userdata);
  conn->max_write = kMaxRequestBytes;
  conn->max_readahead = kMaxRequestBytes;
  if (fs->cache.writeback && (conn->capable & FUSE_CAP_WRITEBACK_CACHE)) conn->want |= FUSE_CAP_WRITEBACK_CACHE;
  if (!fs->cache.writeback) conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
  // Pages kept across opens (--cache) go once a refreshed mtime or size shows a change.
  if (conn->capable & FUSE_CAP_AUTO_INVAL_DATA) conn->want |= FUSE_CAP_AUTO_INVAL_DATA;
  // open(O_TRUNC) reaches Open with the flag, which truncates by inode.
  if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC) conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
  // With entry timeout 0 the kernel drops the names and attributes a READDIRPLUS reply
  // carries and looks each name up again before it uses it: a Stat per listed name for
  // nothing. The default mode lists with plain READDIR.
  if (fs->cache.entry_timeout == 0) conn->want &= ~(FUSE_CAP_READDIRPLUS | FUSE_CAP_READDIRPLUS_AUTO);
}

// The attributes of node (at path) for a permission check: the ones this thread was just
// given for it (RecentAttrs: a path walk's previous LOOKUP), else the daemons'.
Status AttrsOf(fuse_req_t req, fuse_ino_t node, const std::string& path, struct stat* st) {
  Filesystem& fs = Fs(req);
  if (fs.recent.Reuse(node, Tid(req), MonotonicNs(), st)) return Status::OK();
  Metadata md;
  Status s = fs.client->Stat(path, &md);
  if (!s.ok()) return s;
  FillAttr(fs, md, st);
  fs.recent.Remember(node, Tid(req), *st, MonotonicNs());
  return s;
}

// Without default_permissions the kernel checks no search permission: each name's LOOKUP
// checks it on the directory the name is in (a walk looks every name up, timeouts 0).
void Lookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
  std::string path;
  if (!ChildOf(req, parent, name, &path)) return;
  Caller caller = CallerOf(req);
  if (!caller.Privileged()) {
    struct stat dir;
    Status s = AttrsOf(req, parent, ParentPath(path), &dir);
    if (!s.ok()) return (void)fuse_reply_err(req, Errno(s));
    if (!S_ISDIR(dir.st_mode)) return (void)fuse_reply_err(req, ENOTDIR);
    if (!caller.MayAccess(dir, X_OK)) return (void)fuse_reply_err(req, EACCES);
  }
  Metadata md;
  Status s = Fs(req).client->Stat(path, &md);
  if (!s.ok()) return (void)fuse_reply_err(req, Errno(s));
  ReplyEntry(req, path, md);
}

void Forget(fuse_req_t req, fuse_ino_t node, uint64_t nlookup) {
  Fs(req).nodes->Forget(node, nlookup);
  fuse_reply_none(req);
}

void ForgetMulti(fuse_req_t req, size_t count, struct fuse_forget_data* forgets) {
  for (size_t i = 0; i < count; ++i) Fs(req).nodes->Forget(forgets[i].ino, forgets[i].nlookup);
  fuse_reply_none(req);
}

// The node's metadata: by the open file when there is one, else by its path, else (a node
// whose name went) by its inode.
Status StatNode(fuse_req_t req, fuse_ino_t node, fuse_file_info* fi, Metadata* md) {
  Filesystem& fs = Fs(req);
  if (fi != nullptr && fi->fh != 0) {
    auto* f = reinterpret_cast<OpenFile*>(fi->fh);
    return fs.client->StatFile(f->path, f->ino, md);
  }
  std::string path;
  uint64_t ino = 0;
  if (!fs.nodes->Get(node, &path, &ino)) return Status::Error(ENOENT, "unknown node");
  return path.empty() ? fs.client->StatFile(path, ino, md) : fs.client->Stat(path, md);
}

// By path (no open file): the attributes this thread was just given for the node, if any
// (RecentAttrs), else the daemons'.
void GetAttr(fuse_req_t req, fuse_ino_t node, fuse_file_info* fi) {
  Filesystem& fs = Fs(req);
  struct stat st;
  bool by_path = fi == nullptr || fi->fh == 0;
  if (by_path && fs.recent.Reuse(node, Tid(req), MonotonicNs(), &st)) {
    return (void)fuse_reply_attr(req, &st, fs.cache.attr_timeout);
  }
  Metadata md;
  Status s = StatNode(req, node, fi, &md);
  if (!s.ok()) return (void)fuse_reply_err(req, Errno(s));
  FillAttr(fs, md, &st);
  fs.recent.Remember(node, Tid(req), st, MonotonicNs());
  fuse_reply_attr(req, &st, fs.cache.attr_timeout);
}

// Linux's checks of a change of attributes (the kernel makes none without
// default_permissions): EPERM or EACCES, or 0 with *mode the permission bits to store.
int SetAttrDenied(const Caller& caller, const Metadata& md, const struct stat& attr, int to_set, bool by_fd,
                  int64_t* mode) {
  auto in_group = [&caller](uint32_t gid) { return caller.InGroup(gid); };
  if ((to_set & FUSE_SET_ATTR_SIZE) && !by_fd && !caller.MayAccess(md, W_OK)) return EACCES;
  if (to_set & FUSE_SET_ATTR_MODE) {
    // The kernel itself clears set-user-ID and set-group-ID bits when someone who may
    // write the file writes it or changes its owner: not the owner's privilege.
    uint32_t now = md.mode & 07777, asked = attr.st_mode & 07777;
    bool kill_priv = asked != now && (asked | S_ISUID | S_ISGID) == (now | S_ISUID | S_ISGID) && (asked & ~now) == 0;
    uint32_t bits = asked;
    if (!kill_priv && ChmodBits(md, asked, caller.uid(), in_group, &bits) != 0) return EPERM;
    *mode = bits;
  }
  if (to_set & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) {
    int64_t uid = (to_set & FUSE_SET_ATTR_UID) ? int64_t{attr.st_uid} : int64_t{-1};
    int64_t gid = (to_set & FUSE_SET_ATTR_GID) ? int64_t{attr.st_gid} : int64_t{-1};
    int64_t unused;
    if (ChownChange(md, uid, gid, caller.uid(), in_group, &unused) != 0) return EPERM;
  }
  bool explicit_times = ((to_set & FUSE_SET_ATTR_ATIME) && !(to_set & FUSE_SET_ATTR_ATIME_NOW)) ||
                        ((to_set & FUSE_SET_ATTR_MTIME) && !(to_set & FUSE_SET_ATTR_MTIME_NOW));
  bool now_times = (to_set & (FUSE_SET_ATTR_ATIME_NOW | FUSE_SET_ATTR_MTIME_NOW)) != 0;
  if (explicit_times && !caller.Owns(md)) return EPERM;
  if (now_times && !caller.Owns(md) && !caller.MayAccess(md, W_OK)) return EACCES;
  return 0;
}

void SetAttr(fuse_req_t req, fuse_ino_t node, struct stat* attr, int to_set, fuse_file_info* fi) {
  Filesystem& fs = Fs(req);
  std::string path;
  uint64_t ino = 0;
  if (!fs.nodes->Get(node, &path, &ino)) return (void)fuse_reply_err(req, ENOENT);
  if (fi != nullptr && fi->fh != 0) ino = reinterpret_cast<OpenFile*>(fi->fh)->ino;
  bool by_ino = path.empty() || (fi != nullptr && fi->fh != 0);
  Caller caller = CallerOf(req);
  int64_t checked_mode = -1;
  if (!caller.Privileged()) {
    Metadata md;
    Status s = StatNode(req, node, fi, &md);
    int denied = s.ok() ? SetAttrDenied(caller, md, *attr, to_set, fi != nullptr && fi->fh != 0, &checked_mode) : 0;
    if (!s.ok()) return (void)fuse_reply_err(req, Errno(s));
    if (denied != 0) return (void)fuse_reply_err(req, denied);
  }
  Status s;
  if (to_set & FUSE_SET_ATTR_SIZE) {
    s = by_ino ? fs.client->TruncateFile(path, ino, attr->st_size) : fs.client->Truncate(path, attr->st_size);
  }
  // int64_t on both arms: mode_t and uid_t are unsigned, and -1 must stay "leave as is".
  int64_t mode = checked_mode >= 0 ? checked_mode
                 : (to_set & FUSE_SET_ATTR_MODE) ? int64_t{attr->st_mode & 07777} : int64_t{-1};
  int64_t uid = (to_set & FUSE_SET_ATTR_UID) ? int64_t{attr->st_uid} : int64_t{-1};
  int64_t gid = (to_set & FUSE_SET_ATTR_GID) ? int64_t{attr->st_gid} : int64_t{-1};
  int64_t atime = (to_set & FUSE_SET_ATTR_ATIME_NOW) ? NowNs()
                  : (to_set & FUSE_SET_ATTR_ATIME) ? Ns(attr->st_atim) : -1;
  int64_t mtime = (to_set & FUSE_SET_ATTR_MTIME_NOW) ? NowNs()
                  : (to_set & FUSE_SET_ATTR_MTIME) ? Ns(attr->st_mtim) : -1;
  bool attrs = mode >= 0 || uid >= 0 || gid >= 0 || atime >= 0 || mtime >= 0 || (to_set & FUSE_SET_ATTR_CTIME);
  if (s.ok() && attrs) {
    s = by_ino ? fs.client->SetAttrFile(path, ino, mode, atime, mtime, uid, gid)
               : fs.client->SetAttr(path, mode, atime, mtime, uid, gid);
  }
  fs.recent.Changed();
  if (!s.ok()) return (void)fuse_reply_err(req, Errno(s));
  GetAttr(req, node, fi);
}

void ReadLink(fuse_req_t req, fuse_ino_t node) {
  std::string path;
  if (!PathOf(req, node, &path)) return;
  Metadata md;
  Status s = Fs(req).client->Stat(path, &md);
  if (!s.ok()) return (void)fuse_reply_err(req, Errno(s));
  if (!md.is_symlink()) return (void)fuse_reply_err(req, EINVAL);
  fuse_reply_readlink(req, md.link_target.c_str());
}

void MkNod(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode, dev_t rdev) {
  std::string path;
  if (!ChildOf(req, parent, name, &path)) return;
  Caller caller = CallerOf(req);
  CallerScope scope(caller);  // the core checks the directories
  Filesystem& fs = Fs(req);
  Metadata md;
  Status s = S_ISREG(mode) ? fs.client->Create(path, mode & 07777, true, &md, nullptr)
                           : fs.client->Mknod(path, mode, rdev);
  fs.recent.Changed();
  if (s.ok()) s = fs.client->Stat(path, &md);
  if (s.ok()) s = OwnByCaller(req, path, 0, &md);
  if (!s.ok()) return (void)fuse_reply_err(req, Errno(s));
  ReplyEntry(req, path, md);
}

void MkDir(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode) {
  std::string path;
  if (!ChildOf(req, parent, name, &path)) return;
  Caller caller = CallerOf(req);
  CallerScope scope(caller);  // the core checks the directories
  Filesystem& fs = Fs(req);
  Metadata md;
  Status s = fs.client->Mkdir(path, mode & 07777);
  fs.recent.Changed();
  if (s.ok()) s = fs.client->Stat(path, &md);
  if (s.ok()) s = OwnByCaller(req, path, 0, &md);
  if (!s.ok()) return (void)fuse_reply_err(req, Errno(s));
  ReplyEntry(req, path, md);
}

void Unlink(fuse_req_t req, fuse_ino_t parent, const char* name) {
  std::string path;
  if (!ChildOf(req, parent, name, &path)) return;
  Caller caller = CallerOf(req);
  CallerScope scope(caller);  // the core checks the directories
  Status s = Fs(req).client->Remove(path);
  Fs(req).recent.Changed();
  if (s.ok()) Fs(req).nodes->Unlinked(path);
  fuse_reply_err(req, s.ok() ? 0 : Errno(s));
}

void RmDir(fuse_req_t req, fuse_ino_t parent, const char* name) {
  std::string path;
  if (!ChildOf(req, parent, name, &path)) return;
  Caller caller = CallerOf(req);
  CallerScope scope(caller);  // the core checks the directories
  Status s = Fs(req).client->Rmdir(path);
  Fs(req).recent.Changed();
  if (s.ok()) Fs(req).nodes->Unlinked(path);
  fuse_reply_err(req, s.ok() ? 0 : Errno(s));
}

void SymLink(fuse_req_t req, const char* target, fuse_ino_t parent, const char* name) {
  std::string path;
  if (!ChildOf(req, parent, name, &path)) return;
  Caller caller = CallerOf(req);
  CallerScope scope(caller);  // the core checks the directories
  Filesystem& fs = Fs(req);
  Metadata md;
  Status s = fs.client->Symlink(path, target);
  fs.recent.Changed();
  if (s.ok()) s = fs.client->Stat(path, &md);
  if (s.ok()) s = OwnByCaller(req, path, 0, &md);
  if (!s.ok()) return (void)fuse_reply_err(req, Errno(s));
  ReplyEntry(req, path, md);
}

void Rename(fuse_req_t req, fuse_ino_t parent, const char* name, fuse_ino_t newparent, const char* newname,
            unsigned int flags) {
  std::string from, to;
  if (!ChildOf(req, parent, name, &from) || !ChildOf(req, newparent, newname, &to)) return;
  Caller caller = CallerOf(req);
  CallerScope scope(caller);  // the core checks the directories
  Filesystem& fs = Fs(req);
  if (flags & RENAME_EXCHANGE) {  // the kernel found both names and refused a subtree
    Status s = fs.client->Exchange(from, to);
    fs.recent.Changed();
    if (s.ok()) fs.nodes->Exchanged(from, to);
    return (void)fuse_reply_err(req, s.ok() ? 0 : Errno(s));
  }
  if (flags & RENAME_NOREPLACE) {  // not atomic against a concurrent create of `to`
    Metadata md;
    Status exists = fs.client->Stat(to, &md);
    if (exists.ok()) return (void)fuse_reply_err(req, EEXIST);
    if (exists.code() != ENOENT) return (void)fuse_reply_err(req, Errno(exists));
  }
  Status s = fs.client->Rename(from, to);
  fs.recent.Changed();
  if (s.ok()) fs.nodes->Renamed(from, to);
  fuse_reply_err(req, s.ok() ? 0 : Errno(s));
}

// fs.protected_hardlinks (the kernel's own check asks the permission gkfs-fuse now gives):
// a caller who does not own the source links only a plain regular file it may read and write.
bool MayLinkSource(const Caller& caller, const Metadata& md) {
  if (caller.Owns(md)) return true;
  std::ifstream sysctl("/proc/sys/fs/protected_hardlinks");
  int protect = 0;
  if (!(sysctl >> protect) || protect == 0) return true;
  bool setid = (md.mode & S_ISUID) || ((md.mode & S_ISGID) && (md.mode & S_IXGRP));
  return md.is_regular() && !setid && caller.MayAccess(md, R_OK | W_OK);
}

void Link(fuse_req_t req, fuse_ino_t node, fuse_ino_t newparent, const char* newname) {
  std::string old_path, path;
  if (!PathOf(req, node, &old_path) || !ChildOf(req, newparent, newname, &path)) return;
  Caller caller = CallerOf(req);
  CallerScope scope(caller);  // the core checks the directories
  if (!caller.Privileged()) {
    Metadata md;
    Status s = Fs(req).client->Stat(old_path, &md);
    if (s.ok() && !MayLinkSource(caller, md)) s = Status::Error(EPERM, "protected hard link");
    if (!s.ok()) return (void)fuse_reply_err(req, Errno(s));
  }
  Status s = Fs(req).client->Link(old_path, path);
  Fs(req).recent.Changed();
  if (!s.ok()) return (void)fuse_reply_err(req, Errno(s));
  ReplyEntryOf(req, path);
}

// The open file a descriptor of the kernel's names (fi->fh), with the caching mode of the mount.
OpenFile* AttachOpenFile(const Filesystem& fs, const std::string& path, const Metadata& md, fuse_file_info* fi) {
  auto* f = new OpenFile{path, md.file_id, (fi->flags & O_APPEND) != 0};
  fi->fh = reinterpret_cast<uint64_t>(f);
  fi->keep_cache = fs.cache.keep_cache;
  fi->direct_io = fs.cache.direct_io;
  return f;
}

// The kernel's mark on the open of a program it execs (__FMODE_EXEC in f_flags).
constexpr int kExecOpen = 040;

// What open(2) with `flags` needs on the file: read and/or write (also for O_TRUNC), or
// execute for the kernel's open of a program it execs.
int OpenMask(int flags) {
  if (flags & kExecOpen) return X_OK;
  int acc = flags & O_ACCMODE;
  int mask = acc == O_RDONLY ? R_OK : acc == O_WRONLY ? W_OK : R_OK | W_OK;
  return (flags & O_TRUNC) ? mask | W_OK : mask;
}

void Open(fuse_req_t req, fuse_ino_t node, fuse_file_info* fi) {
  Filesystem& fs = Fs(req);
  std::string path;
  if (!PathOf(req, node, &path)) return;
  Metadata md;
  Status s = fs.client->OpenFile(path, false, 0, false, fs.session, &md, nullptr);
  if (!s.ok()) return (void)fuse_reply_err(req, Errno(s));
  if (!CallerOf(req).MayAccess(md, OpenMask(fi->flags))) {
    fs.client->Release(fs.session, {md.file_id});
    return (void)fuse_reply_err(req, EACCES);
  }
  if ((fi->flags & O_TRUNC) && md.is_regular() && md.size != 0) {
    s = fs.client->TruncateFile(path, md.file_id, 0);
    fs.recent.Changed();
    if (!s.ok()) {
      fs.client->Release(fs.session, {md.file_id});
      return (void)fuse_reply_err(req, Errno(s));
    }
  }
  OpenFile* f = AttachOpenFile(fs, path, md, fi);
  if (fuse_reply_open(req, fi) != 0) {  // the caller was interrupted: the open ends here
    fs.client->Release(fs.session, {f->ino});
    delete f;
  }
}

void Create(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode, fuse_file_info* fi) {
  std::string path;
  if (!ChildOf(req, parent, name, &path)) return;
  Filesystem& fs = Fs(req);
  Metadata md;
  bool created = false;
  bool exclusive = (fi->flags & O_EXCL) != 0;
  Caller caller = CallerOf(req);
  CallerScope scope(caller);  // the core checks the directory
  Status s = fs.client->OpenFile(path, true, mode & 07777, exclusive, fs.session, &md, &created);
  if (!s.ok()) return (void)fuse_reply_err(req, Errno(s));
  if (created) fs.recent.Changed();
  if (created) s = OwnByCaller(req, path, md.file_id, &md);
  else if (!caller.MayAccess(md, OpenMask(fi->flags))) s = Status::Error(EACCES, "open");
  if (!s.ok()) {
    fs.client->Release(fs.session, {md.file_id});
    return (void)fuse_reply_err(req, Errno(s));
  }
  OpenFile* f = AttachOpenFile(fs, path, md, fi);
  fuse_entry_param e{};
  e.ino = fs.nodes->Remember(path, md.file_id);
  e.attr_timeout = fs.cache.attr_timeout;
  e.entry_timeout = fs.cache.entry_timeout;
  FillAttr(fs, md, &e.attr);
  fs.recent.Remember(e.ino, Tid(req), e.attr, MonotonicNs());
  if (fuse_reply_create(req, &e, fi) != 0) {
    fs.nodes->Forget(e.ino, 1);
    fs.client->Release(fs.session, {f->ino});
    delete f;
  }
}

// A worker thread's read buffer, kept across requests: a fresh 1 MiB buffer per read is an
// mmap, 256 page faults and a munmap (Read writes what it returns: never cleared).
char* ReadBuffer(size_t size) {
  thread_local std::unique_ptr<char[]> buf;
  thread_local size_t capacity = 0;
  if (capacity < size) {
    buf.reset(new char[size]);
    capacity = size;
  }
  return buf.get();
}

void Read(fuse_req_t req, fuse_ino_t, size_t size, off_t off, fuse_file_info* fi) {
  auto* f = reinterpret_cast<OpenFile*>(fi->fh);
  char* buf = ReadBuffer(size);
  size_t n = 0;
  Status s = Fs(req).client->Read(f->path, f->ino, off, buf, size, &n);
  if (!s.ok()) return (void)fuse_reply_err(req, Errno(s));
  fuse_reply_buf(req, buf, n);
}

void Write(fuse_req_t req, fuse_ino_t, const char* buf, size_t size, off_t off, fuse_file_info* fi) {
  auto* f = reinterpret_cast<OpenFile*>(fi->fh);
  Filesystem& fs = Fs(req);
  uint64_t at = 0;
  // Without the writeback cache the kernel passes O_APPEND writes through; the daemon then
  // places them at the end the file has, whoever else appends.
  Status s = f->append && !fs.cache.writeback ? fs.client->Append(f->path, f->ino, buf, size, &at)
                                              : fs.client->Write(f->path, f->ino, off, buf, size);
  fs.recent.Changed();
  if (!s.ok()) return (void)fuse_reply_err(req, Errno(s));
  fuse_reply_write(req, size);
}

void Release(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
  auto* f = reinterpret_cast<OpenFile*>(fi->fh);
  Status s = Fs(req).client->Release(Fs(req).session, {f->ino});
  delete f;
  fuse_reply_err(req, s.ok() ? 0 : Errno(s));
}

void Fsync(fuse_req_t req, fuse_ino_t, int datasync, fuse_file_info* fi) {
  auto* f = reinterpret_cast<OpenFile*>(fi->fh);
  Status s = Fs(req).client->Sync(f->path, f->ino, datasync ? SyncLevel::kData : SyncLevel::kFile);
  fuse_reply_err(req, s.ok() ? 0 : Errno(s));
}

// fallocate(2) mode 0 grows the file to offset + length (the new bytes read as zeros, as
// holes do); FALLOC_FL_KEEP_SIZE has nothing to reserve; other modes are not supported.
void Fallocate(fuse_req_t req, fuse_ino_t, int mode, off_t offset, off_t length, fuse_file_info* fi) {
  auto* f = reinterpret_cast<OpenFile*>(fi->fh);
  if (mode == FALLOC_FL_KEEP_SIZE) return (void)fuse_reply_err(req, 0);
  if (mode != 0) return (void)fuse_reply_err(req, EOPNOTSUPP);
  Metadata md;
  Status s = Fs(req).client->StatFile(f->path, f->ino, &md);
  uint64_t end = static_cast<uint64_t>(offset) + static_cast<uint64_t>(length);
  if (s.ok() && end > md.size) s = Fs(req).client->TruncateFile(f->path, f->ino, end);
  Fs(req).recent.Changed();
  fuse_reply_err(req, s.ok() ? 0 : Errno(s));
}

// gkfs keeps no extended attributes. No getxattr op: libfuse answers ENOSYS, the kernel stops
// asking and gives every later getxattr EOPNOTSUPP (as the preload does) without a request
// (ls -l asks for ACLs). The list is empty.
void ListXattr(fuse_req_t req, fuse_ino_t, size_t size) {
  if (size == 0) return (void)fuse_reply_xattr(req, 0);
  fuse_reply_buf(req, nullptr, 0);
}

void OpenDirOp(fuse_req_t req, fuse_ino_t node, fuse_file_info* fi) {
  std::string path;
  uint64_t ino = 0;
  if (!PathOf(req, node, &path, &ino)) return;
  Caller caller = CallerOf(req);
  if (!caller.Privileged()) {  // listing needs read permission
    Metadata md;
    Status s = Fs(req).client->Stat(path, &md);
    if (s.ok() && !caller.MayAccess(md, R_OK)) s = Status::Error(EACCES, "opendir");
    if (!s.ok()) return (void)fuse_reply_err(req, Errno(s));
  }
  auto* d = new OpenDir{path, {}};
  Status s = Fs(req).client->ReadDir(path, &d->entries);
  if (!s.ok()) {
    delete d;
    return (void)fuse_reply_err(req, Errno(s));
  }
  // ".." names the parent's inode (glibc's readdir hides entries whose d_ino is 0).
  Metadata parent;
  std::string up = path == "/" ? "/" : path.substr(0, std::max<size_t>(path.rfind('/'), 1));
  uint64_t up_ino = Fs(req).client->Stat(up, &parent).ok() ? parent.file_id : ino;
  std::vector<DirEntry> dots = {DirEntry{".", DT_DIR, ino}, DirEntry{"..", DT_DIR, up_ino}};
  d->entries.insert(d->entries.begin(), dots.begin(), dots.end());
  fi->fh = reinterpret_cast<uint64_t>(d);
  if (fuse_reply_open(req, fi) != 0) delete d;
}

// One page of the listing from entry `off`; plus: with each entry's attributes, which count
// as a lookup (except "." and "..", which the kernel does not keep).
void ReadDirPage(fuse_req_t req, size_t size, off_t off, fuse_file_info* fi, bool plus) {
  Filesystem& fs = Fs(req);
  auto* d = reinterpret_cast<OpenDir*>(fi->fh);
  std::vector<char> buf(size);
  size_t used = 0;
  for (size_t i = static_cast<size_t>(off); i < d->entries.size(); ++i) {
    const DirEntry& de = d->entries[i];
    struct stat st {};
    st.st_ino = de.ino;
    st.st_mode = static_cast<mode_t>(DTTOIF(de.type));
    size_t n;
    if (!plus) {
      n = fuse_add_direntry(req, buf.data() + used, size - used, de.name.c_str(), &st, i + 1);
      if (n > size - used) break;
    } else {
      bool dots = de.name == "." || de.name == "..";
      fuse_entry_param e{};
      std::string path = ChildPath(d->path, de.name.c_str());
      Metadata md;
      if (!dots && fs.client->Stat(path, &md).ok()) {
        e.ino = fs.nodes->Remember(path, md.file_id);
        e.attr_timeout = fs.cache.attr_timeout;
        e.entry_timeout = fs.cache.entry_timeout;
        FillAttr(fs, md, &e.attr);
      } else {
        e.attr = st;  // gone since the listing, or a dot entry: a name without a node
      }
      n = fuse_add_direntry_plus(req, buf.data() + used, size - used, de.name.c_str(), &e, i + 1);
      if (n > size - used) {
        if (e.ino != 0) fs.nodes->Forget(e.ino, 1);
        break;
      }
    }
    used += n;
  }
  fuse_reply_buf(req, buf.data(), used);
}

void ReadDir(fuse_req_t req, fuse_ino_t, size_t size, off_t off, fuse_file_info* fi) {
  ReadDirPage(req, size, off, fi, false);
}

void ReadDirPlus(fuse_req_t req, fuse_ino_t, size_t size, off_t off, fuse_file_info* fi) {
  ReadDirPage(req, size, off, fi, true);
}

void ReleaseDir(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
  delete reinterpret_cast<OpenDir*>(fi->fh);
  fuse_reply_err(req, 0);
}

void FsyncDir(fuse_req_t req, fuse_ino_t node, int, fuse_file_info*) {
  std::string path;
  if (!PathOf(req, node, &path)) return;
  Status s = Fs(req).client->Sync(path, 0, SyncLevel::kFile);
  fuse_reply_err(req, s.ok() ? 0 : Errno(s));
}

void StatFs(fuse_req_t req, fuse_ino_t) {
  FsStats stats;
  Status s = Fs(req).client->StatFs(&stats);
  if (!s.ok()) return (void)fuse_reply_err(req, Errno(s));
  struct statvfs sv {};
  sv.f_bsize = sv.f_frsize = stats.block_size;
  sv.f_blocks = stats.total_bytes / stats.block_size;
  sv.f_bfree = sv.f_bavail = stats.free_bytes / stats.block_size;
  sv.f_files = stats.files;
  sv.f_ffree = sv.f_favail = UINT32_MAX;
  sv.f_namemax = NAME_MAX;
  sv.f_fsid = Fs(req).client->config().device_id;
  fuse_reply_statfs(req, &sv);
}

// access(2) and chdir(2) (the kernel asks only without default_permissions): Linux's rules
// with the caller's ids and groups.
void Access(fuse_req_t req, fuse_ino_t node, int mask) {
  Metadata md;
  Status s = StatNode(req, node, nullptr, &md);
  if (!s.ok()) return (void)fuse_reply_err(req, Errno(s));
  fuse_reply_err(req, CallerOf(req).MayAccess(md, mask) ? 0 : EACCES);
}

fuse_lowlevel_ops MakeOperations() {
  fuse_lowlevel_ops ops{};
  ops.init = Init;
  ops.lookup = Lookup;
  ops.forget = Forget;
  ops.forget_multi = ForgetMulti;
  ops.getattr = GetAttr;
  ops.setattr = SetAttr;
  ops.readlink = ReadLink;
  ops.mknod = MkNod;
  ops.mkdir = MkDir;
  ops.unlink = Unlink;
  ops.rmdir = RmDir;
  ops.symlink = SymLink;
  ops.rename = Rename;
  ops.link = Link;
  ops.open = Open;
  ops.create = Create;
  ops.read = Read;
  ops.write = Write;
  // No flush: writes are on the daemons when Write returns, so close has nothing to push;
  // libfuse answers ENOSYS and the kernel stops asking (a round trip less per close; it
  // still writes dirty pages of mmap and the writeback cache back before close returns).
  ops.release = Release;
  ops.fsync = Fsync;
  ops.opendir = OpenDirOp;
  ops.readdir = ReadDir;
  ops.readdirplus = ReadDirPlus;
  ops.releasedir = ReleaseDir;
  ops.fsyncdir = FsyncDir;
  ops.statfs = StatFs;
  ops.access = Access;
  ops.fallocate = Fallocate;
  ops.listxattr = ListXattr;
  return ops;
}

}  // namespace

const fuse_lowlevel_ops& Operations() {
  static const fuse_lowlevel_ops ops = MakeOperations();
  return ops;
}

}  // namespace gkfs::fuse
