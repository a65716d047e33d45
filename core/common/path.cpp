#include <climits>
#include <cerrno>
#include <vector>

#include "common/path_util.h"
#include "gkfs/client.h"

namespace gkfs {
namespace {

// True if path is already normal: "/" or "/"-separated components that are none of "",
// "." or "..", each at most NAME_MAX bytes (so no "//" and no trailing "/"). The common
// case, answered in one pass without building anything.
bool IsNormal(const std::string& path) {
  if (path == "/") return true;
  size_t start = 1;
  for (size_t i = 1; i <= path.size(); ++i) {
    if (i < path.size() && path[i] != '/') continue;
    size_t len = i - start;
    if (len == 0 || len > NAME_MAX) return false;
    if (path[start] == '.' && (len == 1 || (len == 2 && path[start + 1] == '.'))) return false;
    start = i + 1;
  }
  return true;
}

}  // namespace

Status NormalizePath(const std::string& path, std::string* out) {
  if (!path.empty() && path[0] == '/' && path.size() >= PATH_MAX) {
    return Status::Error(ENAMETOOLONG, "path longer than PATH_MAX");
  }
  return NormalizePathWithin(path, PATH_MAX - 1, out);
}

Status NormalizePathWithin(const std::string& path, size_t max_len, std::string* out) {
  if (path.empty() || path[0] != '/') {
    return Status::Error(EINVAL, "path is not absolute: '" + path + "'");
  }
  if (IsNormal(path)) {
    if (path.size() > max_len) return Status::Error(ENAMETOOLONG, "path too long");
    *out = path;
    return Status::OK();
  }
  std::vector<std::string_view> parts;
  std::string_view rest(path);
  while (!rest.empty()) {
    size_t slash = rest.find('/');
    std::string_view part = rest.substr(0, slash);
    rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (!parts.empty()) parts.pop_back();
      continue;
    }
    if (part.size() > NAME_MAX) {
      return Status::Error(ENAMETOOLONG, "path component longer than NAME_MAX");
    }
    parts.push_back(part);
  }
  std::string result;
  result.reserve(path.size());
  for (auto part : parts) {
    result += '/';
    result += part;
  }
  if (result.size() > max_len) return Status::Error(ENAMETOOLONG, "path too long");
  *out = result.empty() ? "/" : result;
  return Status::OK();
}

}  // namespace gkfs
