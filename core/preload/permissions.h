// Permission checks against gkfs metadata, with the caller's identity (uid, gid,
// supplementary groups) read at each call: programs change identity while running.
#pragma once

#include "gkfs/client.h"
#include "gkfs/metadata.h"

namespace gkfs::preload {

// access(2): whether the caller may `mode` (R_OK | W_OK | X_OK; F_OK is always true) the
// object, by the effective ids (open, AT_EACCESS) or the real ones (access). Root may do
// anything but execute a file nobody may execute.
bool MayAccess(const Metadata& md, int mode, bool effective = true);

// Whether the caller owns the object or is root (chmod, explicit times: EPERM otherwise).
bool OwnsOrRoot(const Metadata& md);

// Whether gid is the caller's effective group or one of its supplementary groups.
bool InGroup(gid_t gid);

// The caller, for the directory checks the client core makes (ClientOptions::credentials):
// MayAccess and OwnsOrRoot above, by the effective ids; root is privileged.
const Credentials& CallerCredentials();

}  // namespace gkfs::preload
