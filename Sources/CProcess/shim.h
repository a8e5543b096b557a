// prctl(2) is variadic, so Swift cannot call it: one fixed-arity wrapper.
#include <sys/prctl.h>

/// Makes the process non-dumpable: no core file, no ptrace by same-user processes. exec resets it.
static inline int mailcred_set_nondumpable(void) {
  return prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}
