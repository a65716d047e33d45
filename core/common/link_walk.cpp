#include "common/link_walk.h"

#include <sys/stat.h>

#include <cerrno>
#include <climits>
#include <deque>

#include "common/path_util.h"

namespace gkfs {
namespace {

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

int ErrnoOf(const Status& s) { return s.code() > 0 && s.code() < 4096 ? s.code() : EIO; }

}  // namespace

std::string LinkWalk::Internal(const std::string& external) const {
  std::string_view mount = mountdir;
  while (mount.size() > 1 && mount.back() == '/') mount.remove_suffix(1);
  if (external.compare(0, mount.size(), mount) != 0) return "";
  if (external.size() == mount.size()) return "/";
  if (external[mount.size()] != '/') return "";
  std::string inside = external.substr(mount.size());
  while (inside.size() > 1 && inside.back() == '/') inside.pop_back();
  return inside;
}

void LinkWalk::Walk(const std::string& path, bool follow_last) {
  error = 0;
  have_md = false;
  const bool must_be_dir = NamesDirectory(path);
  std::deque<std::string> rest = Components(path);
  std::string at;  // absolute, without a trailing slash; "" is "/"
  while (!rest.empty()) {
    std::string part = std::move(rest.front());
    rest.pop_front();
    if (part == ".") continue;
    if (part == "..") {
      at.resize(at.rfind('/') == std::string::npos ? 0 : at.rfind('/'));
      continue;
    }
    std::string next = at + "/" + part;
    std::string inside = Internal(next);
    if (inside.empty() || inside == "/") {  // the kernel's part of the path: lexical
      at = std::move(next);
      continue;
    }
    if (inside.size() > max_internal || part.size() > NAME_MAX) {
      error = ENAMETOOLONG;
      return;
    }
    const bool last = rest.empty();
    if (last && !follow_last && !must_be_dir) {
      at = std::move(next);
      break;
    }
    Metadata m;
    Status s = stat(inside, &m);
    if (!s.ok()) {
      if (s.code() == ENOENT && last) {
        at = std::move(next);
        break;
      }
      error = ErrnoOf(s);
      return;
    }
    if (S_ISLNK(m.mode)) {
      if (++hops > kMaxLinkHops) {
        error = ELOOP;
        return;
      }
      std::deque<std::string> target = Components(m.link_target);
      if (!m.link_target.empty() && m.link_target[0] == '/') at.clear();
      rest.insert(rest.begin(), target.begin(), target.end());
      continue;
    }
    if (!S_ISDIR(m.mode) && (!last || must_be_dir)) {
      error = ENOTDIR;
      return;
    }
    at = std::move(next);
    if (last) {
      md = std::move(m);
      have_md = true;
    }
  }
  resolved = at.empty() ? "/" : at;
  if (must_be_dir && resolved != "/") resolved += '/';
}

}  // namespace gkfs
