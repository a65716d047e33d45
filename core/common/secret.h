// The per-instance secret: 16 random bytes that `gkfs-ctl start` writes, as 32 hex digits,
// into a file only its owner can read (<hosts_file>.secret). Clients put it in every
// request header; a daemon given a secret refuses requests that do not carry it.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "gkfs/status.h"

namespace gkfs {

using Secret = std::array<uint8_t, 16>;

// EACCES/ENOENT if unreadable; EINVAL (naming the file) unless it holds 32 hex digits.
Status ReadSecretFile(const std::string& path, Secret* secret);
// The contents of a secret file (32 hex digits first, white space before them ignored);
// EINVAL naming `origin` otherwise.
Status ParseSecret(const std::string& text, const std::string& origin, Secret* secret);
// Constant-time comparison.
bool SecretsEqual(const Secret& a, const Secret& b);

}  // namespace gkfs
