// Helpers over normalised file-system paths ("/", "/a/b"). Pure functions.
#pragma once

#include <cstddef>
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

}  // namespace gkfs
