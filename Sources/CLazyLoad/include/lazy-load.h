// The machinery both lazily loaded libraries share (COpenSSL/lazy.c: OpenSSL; CGLibLazy/lazy.c: GLib):
// a file lists the functions it forwards as MC_FUNCTIONS(X, V) — X(return type, name, parameters,
// arguments), V for void functions —, names its loader MC_LAZY_LOADER, and expands MC_LAZY_LIBRARY once.
// That defines the loader (dlopen + dlsym of every listed name, once; NULL, or why it failed) and every
// listed function under its own name, forwarding through the table after making sure it is loaded.
#ifndef MAILCRED_LAZY_LOAD_H
#define MAILCRED_LAZY_LOAD_H

#include <pthread.h>
#include <stddef.h>

/// Opens `library` with `flags` and resolves `count` names into `slots`; on the first failure writes
/// "cannot load WHAT (LIBRARY): why" into `failure` (left empty on success). The handle is never closed.
void mailcred_lazy_resolve(const char *what, const char *library, int flags, const char *const *names,
                           void **slots, size_t count, char *failure, size_t size);

/// A forwarder reached without a loaded library is a bug (every path starts at the loader, which reports
/// the failure its own way); continuing through a NULL pointer would be worse than stopping.
void mailcred_lazy_require(const char *failure);

#define MC_LAZY_INDEX(ret, name, params, args) MC_I_##name,
#define MC_LAZY_VINDEX(name, params, args) MC_I_##name,
#define MC_LAZY_NAME(ret, name, params, args) #name,
#define MC_LAZY_VNAME(name, params, args) #name,

#define MC_LAZY_LIBRARY(WHAT, LIBRARY, FLAGS)                                                   \
  enum { MC_FUNCTIONS(MC_LAZY_INDEX, MC_LAZY_VINDEX) MC_LAZY_COUNT };                                   \
  static const char *const mc_lazy_names[] = {MC_FUNCTIONS(MC_LAZY_NAME, MC_LAZY_VNAME)};               \
  static void *mc_lazy_slots[MC_LAZY_COUNT];                                                            \
  static pthread_once_t mc_lazy_once = PTHREAD_ONCE_INIT;                                               \
  static char mc_lazy_failure[512];                                                                     \
  static void mc_lazy_load(void) {                                                                      \
    mailcred_lazy_resolve(WHAT, LIBRARY, FLAGS, mc_lazy_names, mc_lazy_slots, MC_LAZY_COUNT,            \
                          mc_lazy_failure, sizeof mc_lazy_failure);                                     \
  }                                                                                                     \
  const char *MC_LAZY_LOADER(void) {                                                                    \
    pthread_once(&mc_lazy_once, mc_lazy_load);                                                          \
    return mc_lazy_failure[0] ? mc_lazy_failure : NULL;                                                 \
  }                                                                                                     \
  MC_FUNCTIONS(MC_LAZY_DEFINE, MC_LAZY_VDEFINE)

#define MC_LAZY_DEFINE(ret, name, params, args)                                                        \
  ret name params {                                                                                     \
    mailcred_lazy_require(MC_LAZY_LOADER());                                                            \
    return ((ret(*) params)mc_lazy_slots[MC_I_##name]) args;                                           \
  }
#define MC_LAZY_VDEFINE(name, params, args)                                                            \
  void name params {                                                                                    \
    mailcred_lazy_require(MC_LAZY_LOADER());                                                            \
    ((void(*) params)mc_lazy_slots[MC_I_##name]) args;                                                 \
  }

#endif
