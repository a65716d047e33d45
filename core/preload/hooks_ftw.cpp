// nftw/ftw over gkfs. glibc's walk calls its internal opendir, readdir and stat, past every
// interposed symbol, so for a start path in gkfs the walk is redone here on the library's own
// entry points (which also serve kernel paths a symbolic link leads to), with glibc's
// semantics: typeflags, FTW_PHYS, FTW_MOUNT, FTW_CHDIR, FTW_DEPTH, FTW_ACTIONRETVAL, and
// directories known by (st_dev, st_ino) visited once when links are followed. Each
// directory's listing is read whole before its entries are visited, so the walk holds one
// descriptor at a time whatever nopenfd says. Other start paths go to libc.
#include "preload/hooks.h"

#include <dirent.h>
#include <ftw.h>

#include <cstring>
#include <set>
#include <string>
#include <utility>
#include <vector>

static_assert(sizeof(struct stat) == sizeof(struct stat64), "one walk serves both");

using namespace gkfs;
using namespace gkfs::preload;

namespace {

using NftwFn = int (*)(const char*, const struct stat*, int, struct FTW*);
using FtwFn = int (*)(const char*, const struct stat*, int);

constexpr int kNftwFlags = FTW_PHYS | FTW_MOUNT | FTW_CHDIR | FTW_DEPTH | FTW_ACTIONRETVAL;

struct Walk {
  int flags = 0;
  NftwFn nftw_fn = nullptr;  // one of the two
  FtwFn ftw_fn = nullptr;
  dev_t dev = 0;
  std::set<std::pair<dev_t, ino_t>> known;  // directories seen (links followed only)
  std::string path;                        // the object being visited
  struct FTW ftw = {0, 0};

  bool has(int flag) const { return (flags & flag) != 0; }

  // The callback; ftw's gets nftw's typeflags folded (FTW_SL -> F, DP -> D, SLN -> NS).
  int Report(const struct stat* st, int type) {
    if (nftw_fn != nullptr) return nftw_fn(path.c_str(), st, type, &ftw);
    if (type == FTW_SL) type = FTW_F;
    if (type == FTW_DP) type = FTW_D;
    if (type == FTW_SLN) type = FTW_NS;
    return ftw_fn(path.c_str(), st, type);
  }
};

int Visit(Walk* w, int level);

// The names in a directory, without "." and "..": 0, or errno from opendir.
int ListNames(const std::string& dir, std::vector<std::string>* names) {
  DIR* stream = opendir(dir.c_str());
  if (stream == nullptr) return errno;
  while (struct dirent64* e = readdir64(stream)) {
    const char* n = e->d_name;
    if (n[0] == '.' && (n[1] == '\0' || (n[1] == '.' && n[2] == '\0'))) continue;
    names->emplace_back(n);
  }
  closedir(stream);
  return 0;
}

// chdir back to the directory holding w->path (FTW_CHDIR): "/" or the path up to base.
int ChdirToParent(const Walk& w) {
  if (w.ftw.base <= 1) return chdir("/");
  return chdir(w.path.substr(0, static_cast<size_t>(w.ftw.base - 1)).c_str());
}

// A directory: reported (before or after its entries), then its entries at level + 1.
int WalkDirectory(Walk* w, const struct stat& st, int level) {
  std::vector<std::string> names;
  if (int error = ListNames(w->path, &names)) {
    errno = error;
    return error == EACCES ? w->Report(&st, FTW_DNR) : -1;
  }
  if (!w->has(FTW_DEPTH)) {
    if (int r = w->Report(&st, FTW_D)) return r;
  }
  if (w->has(FTW_CHDIR) && chdir(w->path.c_str()) != 0) return -1;
  const std::string dir = w->path;
  const struct FTW saved = w->ftw;
  int result = 0;
  for (const std::string& name : names) {
    w->path = dir.back() == '/' ? dir + name : dir + "/" + name;
    w->ftw = {static_cast<int>(w->path.size() - name.size()), level + 1};
    if ((result = Visit(w, level + 1)) != 0) break;
  }
  w->path = dir;
  w->ftw = saved;
  if (w->has(FTW_ACTIONRETVAL) && result == FTW_SKIP_SIBLINGS) result = 0;
  if (result == 0 && w->has(FTW_DEPTH)) result = w->Report(&st, FTW_DP);
  bool go_back = result == 0 || (w->has(FTW_ACTIONRETVAL) && result != -1 && result != FTW_STOP);
  if (w->has(FTW_CHDIR) && go_back && level > 0 && ChdirToParent(*w) != 0) result = -1;
  return result;
}

// One object: its typeflag from (l)stat, then the callback or the directory walk.
int Visit(Walk* w, int level) {
  struct stat st {};
  bool phys = w->has(FTW_PHYS);
  int type;
  if ((phys ? lstat(w->path.c_str(), &st) : stat(w->path.c_str(), &st)) != 0) {
    if (errno != EACCES && errno != ENOENT) return -1;
    bool dangling = !phys && lstat(w->path.c_str(), &st) == 0 && S_ISLNK(st.st_mode);
    if (!dangling && level == 0) return -1;  // nothing to say about the start path
    type = dangling ? FTW_SLN : FTW_NS;
  } else {
    type = S_ISDIR(st.st_mode) ? FTW_D : S_ISLNK(st.st_mode) ? FTW_SL : FTW_F;
  }
  if (level == 0 && type == FTW_D) w->dev = st.st_dev;
  int result = 0;
  if (type != FTW_NS && w->has(FTW_MOUNT) && level > 0 && st.st_dev != w->dev) {
    result = 0;  // another file system: skipped
  } else if (type != FTW_D) {
    result = w->Report(&st, type);
  } else if (phys || w->known.insert({st.st_dev, st.st_ino}).second) {
    result = WalkDirectory(w, st, level);
  }
  if (w->has(FTW_ACTIONRETVAL) && (result == FTW_SKIP_SUBTREE ||
                                   (level == 0 && result == FTW_SKIP_SIBLINGS))) {
    result = 0;
  }
  return result;
}

// The walk from `start`: FTW_CHDIR starts in its directory, and the cwd is restored after.
int Start(Walk* w, const char* start) {
  w->path = start;
  while (w->path.size() > 1 && w->path.back() == '/') w->path.pop_back();
  size_t slash = w->path.rfind('/');
  w->ftw = {slash == std::string::npos ? 0 : static_cast<int>(slash + 1), 0};
  int cwd_fd = -1;
  if (w->has(FTW_CHDIR)) {
    cwd_fd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (cwd_fd < 0 || (w->ftw.base > 0 && ChdirToParent(*w) != 0)) {
      if (cwd_fd >= 0) close(cwd_fd);
      return -1;
    }
  }
  int result = Visit(w, 0);
  if (cwd_fd >= 0) {
    int saved = errno;
    fchdir(cwd_fd);
    close(cwd_fd);
    errno = saved;
  }
  return result;
}

// True when the walk from `path` is ours (it starts in gkfs).
bool OursToWalk(const char* path) {
  PathTarget t;
  ResolveArg(path, &t);
  return t.gkfs();
}

// nftw and nftw64 (the same on 64-bit Linux, whose struct stat is struct stat64).
template <typename Fn, typename Real>
int Nftw(const char* path, Fn fn, int nopenfd, int flags, Real real) {
  if ((flags & ~kNftwFlags) != 0 || !OursToWalk(path)) return real(path, fn, nopenfd, flags);
  Walk w;
  w.flags = flags;
  w.nftw_fn = reinterpret_cast<NftwFn>(fn);
  return Start(&w, path);
}

template <typename Fn, typename Real>
int Ftw(const char* path, Fn fn, int nopenfd, Real real) {
  if (!OursToWalk(path)) return real(path, fn, nopenfd);
  Walk w;
  w.ftw_fn = reinterpret_cast<FtwFn>(fn);
  return Start(&w, path);
}

}  // namespace

extern "C" {

int nftw(const char* path, __nftw_func_t fn, int nopenfd, int flags) {
  static const auto real = NextSymbol<decltype(&::nftw)>("nftw");
  return Nftw(path, fn, nopenfd, flags, real);
}
int nftw64(const char* path, __nftw64_func_t fn, int nopenfd, int flags) {
  static const auto real = NextSymbol<decltype(&::nftw64)>("nftw64");
  return Nftw(path, fn, nopenfd, flags, real);
}
int ftw(const char* path, __ftw_func_t fn, int nopenfd) {
  static const auto real = NextSymbol<decltype(&::ftw)>("ftw");
  return Ftw(path, fn, nopenfd, real);
}
int ftw64(const char* path, __ftw64_func_t fn, int nopenfd) {
  static const auto real = NextSymbol<decltype(&::ftw64)>("ftw64");
  return Ftw(path, fn, nopenfd, real);
}

}  // extern "C"
