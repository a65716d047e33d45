#include "common/secret.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>

namespace gkfs {

Status ReadSecretFile(const std::string& path, Secret* secret) {
  std::ifstream in(path);
  if (!in) return Status::Error(errno ? errno : EACCES, "cannot read secret file '" + path + "': " + strerror(errno));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return ParseSecret(text, "secret file '" + path + "'", secret);
}

Status ParseSecret(const std::string& text, const std::string& origin, Secret* secret) {
  std::istringstream in(text);
  std::string hex;
  in >> hex;
  if (hex.size() != 32) return Status::Error(EINVAL, origin + " must hold 32 hex digits");
  for (size_t i = 0; i < 16; ++i) {
    unsigned value = 0;
    for (size_t k = 0; k < 2; ++k) {
      char c = hex[2 * i + k];
      int digit = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10
                : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;
      if (digit < 0) return Status::Error(EINVAL, origin + " must hold 32 hex digits");
      value = value * 16 + static_cast<unsigned>(digit);
    }
    (*secret)[i] = static_cast<uint8_t>(value);
  }
  return Status::OK();
}

bool SecretsEqual(const Secret& a, const Secret& b) {
  uint8_t diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= a[i] ^ b[i];
  return diff == 0;
}

}  // namespace gkfs
