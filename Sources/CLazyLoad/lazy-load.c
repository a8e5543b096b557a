// See include/lazy-load.h.
#include "lazy-load.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

void mailcred_lazy_resolve(const char *what, const char *library, int flags, const char *const *names,
                           void **slots, size_t count, char *failure, size_t size) {
  void *handle = dlopen(library, flags);
  if (!handle) {
    const char *why = dlerror();
    snprintf(failure, size, "cannot load %s (%s): %s", what, library, why ? why : "unknown error");
    return;
  }
  for (size_t i = 0; i < count; i++) {
    if (!(slots[i] = dlsym(handle, names[i]))) {
      snprintf(failure, size, "cannot load %s (%s): no symbol %s", what, library, names[i]);
      return;
    }
  }
}

void mailcred_lazy_require(const char *failure) {
  if (failure) {
    fprintf(stderr, "mailcred: %s\n", failure);
    abort();
  }
}
