// Symbolic links inside gkfs, for the preload's path targets.
//
// The component walk is the core's (common/link_walk.h, shared with gkfs.Client): an
// operation on a path through a link fails with ENOENT (ENOTDIR when the link is the parent
// of a create), or meets a link; only then is the path walked, and the operation runs again
// on the result, which may lie outside gkfs (a kernel path).
//
// All functions here may call the Client; none may run in a vfork child (they leave the
// target lexical there).
#pragma once

#include <string>

#include "common/link_walk.h"
#include "gkfs/metadata.h"
#include "preload/path_resolver.h"

namespace gkfs::preload {

// Where a lookup ended.
enum class Found {
  kGkfs,    // in gkfs; the metadata is filled in
  kKernel,  // a link led out of gkfs: the target is now a kernel path (absolute)
  kError,   // errno set (ENOENT, ENOTDIR, ELOOP, ...)
};

// The metadata of what `t` names: links among the ancestors are followed, the last component
// when follow_last (or when t names a directory, "link/"). `t` becomes the resolved path.
// One stat when no link is involved.
Found Lookup(PathTarget* t, bool follow_last, Metadata* md);

// After an operation on t's last component failed with ENOENT or ENOTDIR: if links among
// t's ancestors (or a missing or non-directory ancestor) explain it, re-resolves t and returns
// true; the caller runs the operation again on t, which may now be a kernel or an error
// target. Returns false with errno unchanged when the failure stands. Costs one stat when the
// parent exists.
bool ResolveAncestors(PathTarget* t);

// For a target whose ".." was applied lexically (t->needs_walk): the physical resolution of its
// ancestors, the last component left as it is. May turn t into a kernel or error target.
void WalkDotDot(PathTarget* t);

// For a call that creates, removes or renames the entry `t` names, when t's last component
// is "." or ".." (t->last): such a path names no entry, and the kernel refuses it once the
// directory it is in is found. Finds that directory (links followed; ENOENT, ENOTDIR, ...
// as for any path) and makes t the refusal, dot_error or dotdot_error (t->refused), or,
// when a link led out of gkfs, the kernel path of that directory with the "." or ".." kept.
void RefuseDots(PathTarget* t, int dot_error, int dotdot_error);

// 0 when the directory that gkfs target t would be created in exists (links followed), else
// its errno (ENOENT, ENOTDIR, ...): the kernel looks both parents of a rename or link up
// before it refuses a "." or "..".
int ParentError(const PathTarget& t);

// Replaces `t`, which names the link at `link_internal` with target `link_target`, by what the
// target names (its last component not yet followed: callers loop). ELOOP (as an error
// target) past kMaxLinkHops, counted in *hops.
void FollowLink(const std::string& link_internal, const std::string& link_target, int* hops,
                PathTarget* t);

}  // namespace gkfs::preload
