// Symbolic links inside gkfs: the component walk, and lookups that fall back on it.
#include "preload/links.h"

#include <linux/limits.h>

#include <cerrno>
#include <deque>

#include "common/path_util.h"
#include "preload/gkfs_ops.h"
#include "preload/preload.h"

namespace gkfs::preload {

namespace {

Status StatRecord(const std::string& internal, Metadata* md) {
  return WithClient([&](Client& c) { return c.Stat(internal, md); });
}

// The components of a path; a trailing "/" becomes a final "." (what precedes it must then be
// a directory, and a link there is followed).
std::deque<std::string> Components(const std::string& path) {
  std::deque<std::string> parts;
  for (size_t start = 0; start <= path.size();) {
    size_t slash = path.find('/', start);
    if (slash == std::string::npos) slash = path.size();
    if (slash > start) parts.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
  if (path.size() > 1 && path.back() == '/' && !parts.empty()) parts.push_back(".");
  return parts;
}

bool NamesDirectory(const std::string& path) {
  if (path.empty()) return false;
  if (path.back() == '/') return true;
  std::string_view last = BaseName(path);
  return last == "." || last == "..";
}

// The path the application would use for t, "/" kept for a target that must be a directory.
std::string ExternalForm(const PathTarget& t) {
  std::string path = ExternalPath(t.internal);
  if (t.names_directory && path != "/") path += '/';
  return path;
}

// Resolves an absolute path component by component: components inside gkfs are looked up
// and links replaced by their targets; ".." applies to the resolved path. The last component
// is followed when follow_last or when the path demands a directory ("/", "." or ".." at the
// end). When the last component was looked up and exists, *md holds it (*have_md). A missing
// last component is not an error (it may be about to be created); a missing or non-directory
// ancestor is (ENOENT, ENOTDIR).
void Walk(const std::string& path, bool follow_last, int* hops, PathTarget* out, Metadata* md,
          bool* have_md) {
  *have_md = false;
  const std::string& mount = config().mountdir;
  bool must_be_dir = NamesDirectory(path);
  std::deque<std::string> rest = Components(path);
  std::string resolved;  // absolute, without a trailing slash; "" is "/"
  while (!rest.empty()) {
    std::string part = std::move(rest.front());
    rest.pop_front();
    if (part == ".") continue;
    if (part == "..") {
      resolved.resize(resolved.rfind('/') == std::string::npos ? 0 : resolved.rfind('/'));
      continue;
    }
    std::string next = resolved + "/" + part;
    bool inside = next.size() > mount.size() && next.compare(0, mount.size(), mount) == 0 &&
                  next[mount.size()] == '/';
    if (!inside) {  // the kernel's part of the path: lexical, as everywhere in this library
      resolved = std::move(next);
      continue;
    }
    if (next.size() - mount.size() > kMaxInternalPath || part.size() > NAME_MAX) {
      return out->SetError(ENAMETOOLONG);
    }
    bool last = rest.empty();
    if (last && !follow_last && !must_be_dir) {
      resolved = std::move(next);
      break;
    }
    Metadata m;
    Status s = StatRecord(next.substr(mount.size()), &m);
    if (!s.ok()) {
      if (s.code() == ENOENT && last) {
        resolved = std::move(next);
        break;
      }
      return out->SetError(s.code() > 0 && s.code() < 4096 ? s.code() : EIO);
    }
    if (S_ISLNK(m.mode)) {
      if (++*hops > kMaxLinkHops) return out->SetError(ELOOP);
      std::deque<std::string> target = Components(m.link_target);
      if (!m.link_target.empty() && m.link_target[0] == '/') resolved.clear();
      rest.insert(rest.begin(), target.begin(), target.end());
      continue;
    }
    if (!S_ISDIR(m.mode) && (!last || must_be_dir)) return out->SetError(ENOTDIR);
    resolved = std::move(next);
    if (last) {
      *md = std::move(m);
      *have_md = true;
    }
  }
  if (must_be_dir) resolved += '/';
  ClassifyAbsolute(resolved.empty() ? "/" : resolved, out);
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
