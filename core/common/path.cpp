#include <climits>
#include <cerrno>
#include <vector>

#include "gkfs/client.h"

namespace gkfs {

Status NormalizePath(const std::string& path, std::string* out) {
  if (path.empty() || path[0] != '/') {
    return Status::Error(EINVAL, "path is not absolute: '" + path + "'");
  }
  if (path.size() >= PATH_MAX) {
    return Status::Error(ENAMETOOLONG, "path longer than PATH_MAX");
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
  *out = result.empty() ? "/" : result;
  return Status::OK();
}

}  // namespace gkfs
