// Symbolic links inside gkfs: the component walk, and lookups that fall back on it.
#include "preload/links.h"

#include <linux/limits.h>

#include <cerrno>

#include "common/link_walk.h"
#include "common/path_util.h"
#include "preload/gkfs_ops.h"
#include "preload/preload.h"

namespace gkfs::preload {

namespace {

Status StatRecord(const std::string& internal, Metadata* md) {
  return WithClient([&](Client& c) { return c.Stat(internal, md); });
}

// The path the application would use for t, "/" kept for a target that must be a directory.
std::string ExternalForm(const PathTarget& t) {
  std::string path = ExternalPath(t.internal);
  if (t.names_directory && path != "/") path += '/';
  return path;
}

// LinkWalk::Walk (common/link_walk.h) of an absolute path as the application wrote it, into
// a target: gkfs, kernel (a link led out) or the error. *md holds the last component's
// record when it was looked up and exists (*have_md).
void Walk(const std::string& path, bool follow_last, int* hops, PathTarget* out, Metadata* md,
          bool* have_md) {
  LinkWalk walk;
  walk.mountdir = config().mountdir;
  walk.max_internal = kMaxInternalPath;
  walk.stat = StatRecord;
  walk.hops = *hops;
  walk.Walk(path, follow_last);
  *hops = walk.hops;
  *have_md = walk.have_md;
  if (walk.error != 0) return out->SetError(walk.error);
  if (walk.have_md) *md = std::move(walk.md);
  ClassifyAbsolute(walk.resolved, out);
}

Found Failed(int code) {
  errno = code;
  return Found::kError;
}

Found KindOf(const PathTarget& t) {
  if (t.kernel()) return Found::kKernel;
  return t.gkfs() ? Found::kGkfs : Failed(t.error);
}

}  // namespace

void WalkDotDot(PathTarget* t) {
  if (!t->needs_walk || InVforkChild()) return;
  int hops = 0;
  Metadata md;
  bool have_md;
  std::string path = std::move(t->external);
  Walk(path, false, &hops, t, &md, &have_md);
}

void FollowLink(const std::string& link_internal, const std::string& link_target, int* hops,
                PathTarget* t) {
  if (++*hops > kMaxLinkHops) return t->SetError(ELOOP);
  std::string path = link_target[0] == '/'
                         ? link_target
                         : ExternalPath(ParentPath(link_internal)) + "/" + link_target;
  if (t->names_directory) path += '/';
  Metadata md;
  bool have_md;
  Walk(path, false, hops, t, &md, &have_md);
}

bool ResolveAncestors(PathTarget* t) {
  int saved = errno;
  if (!t->gkfs() || t->internal == "/" || InVforkChild()) return false;
  std::string parent = ParentPath(t->internal);
  Metadata md;
  if (parent == "/" || (StatRecord(parent, &md).ok() && S_ISDIR(md.mode))) {
    errno = saved;  // a record exists there, so no link lies on the way to it
    return false;
  }
  PathTarget resolved;
  int hops = 0;
  bool have_md;
  Walk(ExternalForm(*t), false, &hops, &resolved, &md, &have_md);
  if (resolved.gkfs() && resolved.internal == t->internal) {
    errno = saved;
    return false;
  }
  *t = std::move(resolved);
  return true;
}

namespace {

// The directory at `dir` (absolute, as written), looked up with links followed.
Found LookupDirectory(const std::string& dir, PathTarget* out) {
  ClassifyAbsolute(dir == "/" ? dir : dir + "/", out);
  Metadata md;
  return Lookup(out, true, &md);
}

}  // namespace

void RefuseDots(PathTarget* t, int dot_error, int dotdot_error) {
  bool dot = t->last == PathTarget::Last::kDot;
  PathTarget dir;
  switch (LookupDirectory(t->dots_dir, &dir)) {
    case Found::kGkfs:
      return t->Refuse(dot ? dot_error : dotdot_error);
    case Found::kKernel: {
      std::string path = dir.kernel_path;
      if (path.empty() || path.back() != '/') path += '/';
      return t->SetKernel(path + (dot ? "." : ".."));
    }
    case Found::kError:
      return t->SetError(errno);
  }
}

int ParentError(const PathTarget& t) {
  if (!t.gkfs() || t.internal == "/") return 0;
  PathTarget dir;
  int saved = errno;
  int error = LookupDirectory(ExternalPath(ParentPath(t.internal)), &dir) == Found::kError ? errno : 0;
  errno = saved;
  return error;
}

Found Lookup(PathTarget* t, bool follow_last, Metadata* md) {
  WalkDotDot(t);
  for (bool resolved_ancestors = false;;) {
    if (!t->gkfs()) return KindOf(*t);
    Status s = StatRecord(t->internal, md);
    if (s.ok()) {
      bool follow = follow_last || t->names_directory;
      if (S_ISLNK(md->mode) && follow) {
        int hops = 0;
        bool have_md = false;
        Walk(ExternalForm(*t), true, &hops, t, md, &have_md);
        if (t->gkfs() && !have_md) {  // the walk ended on ".." or at a dangling link
          Status end = StatRecord(t->internal, md);
          if (!end.ok()) return Failed(end.code() > 0 && end.code() < 4096 ? end.code() : EIO);
        }
        return KindOf(*t);
      }
      if (t->names_directory && !S_ISDIR(md->mode)) return Failed(ENOTDIR);
      return Found::kGkfs;
    }
    int code = s.code() > 0 && s.code() < 4096 ? s.code() : EIO;
    if ((code != ENOENT && code != ENOTDIR) || resolved_ancestors) return Failed(code);
    errno = code;
    if (!ResolveAncestors(t)) return Found::kError;
    resolved_ancestors = true;
  }
}

}  // namespace gkfs::preload
