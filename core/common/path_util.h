// Helpers over normalised file-system paths ("/", "/a/b"). Pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "gkfs/status.h"

namespace gkfs {

// NormalizePath (gkfs/client.h) of an absolute path of any length whose result must be at
// most max_len bytes (ENAMETOOLONG otherwise): for paths made by joining a caller's
// relative path to a directory, where only the caller's part has a length limit.
Status NormalizePathWithin(const std::string& path, size_t max_len, std::string* out);

// "/a/b" -> "/a"; "/a" -> "/"; "/" -> "/".
inline std::string ParentPath(std::string_view path) {
  size_t slash = path.rfind('/');
  if (slash == 0 || slash == std::string_view::npos) return "/";
  return std::string(path.substr(0, slash));
}

// "/a/b" -> "b"; "/" -> "".
inline std::string_view BaseName(std::string_view path) {
  size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

// Prefix that every key of a child of dir starts with ("/" -> "/", "/a" -> "/a/").
inline std::string ChildPrefix(std::string_view dir) {
  return dir == "/" ? std::string("/") : std::string(dir) + "/";
}

// FNV-1a (64 bit) of bytes, continuing from h: names for node-local objects and ids that
// only need to agree among the processes of one host (not placement: that is XXH3).
inline uint64_t Fnv1a(std::string_view bytes, uint64_t h = 0xcbf29ce484222325ULL) {
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

// st_dev of every file of the file system mounted at mountdir, the same from the preload,
// gkfs.Client and FUSE (tar and rsync match hard links by st_dev and st_ino): major 0x6b66
// ("fk"), minor the low 20 bits of FNV-1a over the mount directory's bytes.
inline uint64_t FileSystemDevice(std::string_view mountdir) {
  const uint64_t major = 0x6b66, minor = Fnv1a(mountdir) & 0xfffff;
  // makedev's encoding (glibc), spelled out so this header needs no system one.
  return ((major & 0xfffff000ULL) << 32) | ((major & 0xfffULL) << 8) | ((minor & 0xffffff00ULL) << 12) |
         (minor & 0xffULL);
}

}  // namespace gkfs
