/* gkfs_callprobe's parts: the output helpers (gkfs_callprobe.c) and the exec family's calls
 * (gkfs_callprobe_exec.c). */
#pragma once

#include <stddef.h>

/* Adds ", \"key\": \"s\"" (JSON-escaped, n bytes) or ", \"key\": json" to the output. */
void extra_string(const char* key, const char* s, size_t n);
void extra_raw(const char* key, const char* json);
/* A path argument: the text, or the bad pointer it names ("NULL", "BAD", "EDGE:PATH", ...). */
const char* path_of(const char* text);

/* CALL(args) -> 0 or -1 with errno, as the other calls. An exec that succeeded reports the
 * program's exit status and what it wrote to stdout. */
long c_execve(char** a);       /* PATH [ARG...] in a forked child */
long c_vfork_execve(char** a); /* PATH [ARG...] in a vfork child */
long c_execvp(char** a);       /* FILE SEARCH_PATH [ARG...] in a forked child, PATH=SEARCH_PATH */
long c_posix_spawn(char** a);  /* PATH [ARG...] */
long c_posix_spawnp(char** a); /* FILE SEARCH_PATH [ARG...] */
long c_fexecve(char** a);      /* PATH [ARG...]: opened O_RDONLY, executed by descriptor */
long c_execve_bad_env(char** a); /* PATH: execve with an unmapped environment array */
