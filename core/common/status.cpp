#include "gkfs/status.h"

#include <cstring>

namespace gkfs {

std::string Status::ToString() const {
  if (ok()) return "OK";
  std::string s = std::strerror(code_);
  if (!message_.empty()) s += ": " + message_;
  return s;
}

const char* Version() { return GKFS_VERSION; }

}  // namespace gkfs
