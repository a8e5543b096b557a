// GLib loaded on first use (lazy.c): the one call Swift makes before any other GLib function.
#ifndef MAILCRED_GLIB_LAZY_H
#define MAILCRED_GLIB_LAZY_H

// Loads libgio (and through it libgobject and libglib) once; NULL when done, otherwise why it failed.
const char *mailcred_glib_load(void);

#endif
