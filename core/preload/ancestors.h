// Search permission on the directories above a gkfs path, as the kernel checks every
// component of a path walk (the client core checks the parent of what it creates or removes;
// this covers every directory above, for every call). Callers with euid 0 skip it, at no
// cost. Directory records are cached per process for one second: a chmod of an ancestor
// reaches other processes' checks within that window (the staleness the common case pays
// for: one stat per ancestor per second, not per call). Thread-safe.
#pragma once

#include <string>

namespace gkfs::preload::ancestors {

// EACCES when the caller (its current effective ids) may not search a directory above
// internal's last component; 0 otherwise, also when an ancestor is missing or no directory
// (the operation itself reports ENOENT or ENOTDIR then).
int Check(const std::string& internal);
// This process changed a directory's permissions or names (chmod, chown, rename, rmdir):
// its own later checks see the change at once.
void Forget();

}  // namespace gkfs::preload::ancestors
