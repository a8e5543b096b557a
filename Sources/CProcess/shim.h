// prctl(2) is variadic, so Swift cannot call it: one fixed-arity wrapper.
#include <sys/prctl.h>
#include <sys/resource.h>

/// Makes the process non-dumpable (no core file, no ptrace by same-user processes) and sets RLIMIT_CORE to 0.
static inline int mailcred_disable_core_dumps(void) {
  struct rlimit none = {0, 0};
  int a = setrlimit(RLIMIT_CORE, &none);
  int b = prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  return (a == 0 && b == 0) ? 0 : -1;
}
