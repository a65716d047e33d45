// Linux's permission rules over a metadata record, for any caller identity: one definition
// for the preload (the calling process's ids, read at each call), gkfs.Client (the ids it was
// given) and the FUSE client to come. Header-only: the preload library links no client code
// until it first reaches gkfs. in_group(gid) tells whether the caller is in group gid
// (effective or supplementary).
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

#include "gkfs/metadata.h"

namespace gkfs {

// access(2) and open(2): may the caller `mask` (R_OK | W_OK | X_OK; F_OK is always true) the
// object? uid 0 may read and write anything, and execute what has an execute bit or is a
// directory.
template <class InGroup>
bool PermitsAccess(const Metadata& md, int mask, uint32_t uid, InGroup&& in_group) {
  mask &= R_OK | W_OK | X_OK;
  if (mask == 0) return true;
  if (uid == 0) return !(mask & X_OK) || md.is_dir() || (md.mode & 0111);
  unsigned shift = uid == md.uid ? 6 : in_group(md.gid) ? 3 : 0;
  unsigned granted = (md.mode >> shift) & 7;
  return (granted & static_cast<unsigned>(mask)) == static_cast<unsigned>(mask);
}

inline bool OwnsOrPrivileged(const Metadata& md, uint32_t uid) { return uid == 0 || uid == md.uid; }

// chmod(2): the permission bits to store in *bits, or EPERM for a caller who neither owns the
// object nor is root. An unprivileged caller outside the object's group cannot set its
// set-group-ID bit (dropped, not refused).
template <class InGroup>
int ChmodBits(const Metadata& md, uint32_t mode, uint32_t uid, InGroup&& in_group, uint32_t* bits) {
  if (!OwnsOrPrivileged(md, uid)) return EPERM;
  *bits = mode & 07777;
  if (uid != 0 && !in_group(md.gid)) *bits &= ~static_cast<uint32_t>(S_ISGID);
  return 0;
}

// chown(2) (new_uid, new_gid: -1 keeps one): EPERM unless root, or the owner keeping the
// owner and giving the object one of its own groups. *mode_after is the mode to store with
// the change (Linux drops set-user-ID from anything but a directory, and set-group-ID when
// group execution is on), -1 when the mode stays.
template <class InGroup>
int ChownChange(const Metadata& md, int64_t new_uid, int64_t new_gid, uint32_t uid, InGroup&& in_group,
                int64_t* mode_after) {
  if (uid != 0) {
    bool uid_ok = new_uid < 0 || (uid == md.uid && new_uid == md.uid);
    bool gid_ok = new_gid < 0 || (uid == md.uid && (new_gid == md.gid || in_group(static_cast<uint32_t>(new_gid))));
    if (!uid_ok || !gid_ok) return EPERM;
  }
  *mode_after = -1;
  if (!md.is_dir()) {
    uint32_t bits = md.mode & 07777;
    uint32_t cleared = bits & ~static_cast<uint32_t>(S_ISUID);
    if ((bits & S_ISGID) && (bits & S_IXGRP)) cleared &= ~static_cast<uint32_t>(S_ISGID);
    if (cleared != bits) *mode_after = cleared;
  }
  return 0;
}

}  // namespace gkfs
