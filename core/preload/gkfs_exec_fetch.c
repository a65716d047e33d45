/* gkfs_exec_fetch MEMFD RESULT_FD PATH: reads the gkfs program PATH into the descriptor MEMFD
 * for a vfork child about to exec it (core/preload/exec_program.h), which cannot use the
 * gkfs client itself. Started by libgkfs_intercept.so with that library preloaded; all the
 * work is the library's gkfs_exec_fetch_run, which writes exec's errno to RESULT_FD. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char** argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: gkfs_exec_fetch MEMFD RESULT_FD PATH (run by the gkfs preload)\n");
    return 2;
  }
  int (*run)(const char*, int, int) =
      (int (*)(const char*, int, int))dlsym(RTLD_DEFAULT, "gkfs_exec_fetch_run");
  if (run == NULL) {
    fprintf(stderr, "gkfs_exec_fetch: libgkfs_intercept.so is not preloaded\n");
    return 2;
  }
  return run(argv[3], atoi(argv[1]), atoi(argv[2]));
}
