// GLib loaded on first use, as COpenSSL's lazy.c loads OpenSSL: `get`, `list` and the git helper's `get`
// speak D-Bus without GLib (DirectSecretService), so the process maps libgio, libgobject, libglib and
// their dependencies (libmount, libselinux, libblkid, libpcre2, libffi, libz: about 10 libraries, 4000
// relocations and GObject's type-system setup) only when a command falls back to GDBus or writes.
//
// Every GLib function MailcredKeyring calls is defined here under its own name, with the prototype from
// GLib's headers (the compiler checks each one against them), and forwards through a table filled by
// dlsym() once. The definitions are hidden: they bind only this executable's calls, are never exported,
// and so never interpose on GLib's calls into itself.
#include <dlfcn.h>
#include <pthread.h>  // before the hidden-visibility headers: its declarations keep their visibility
#include <stdio.h>
#include <stdlib.h>

#pragma GCC visibility push(hidden)
#include <gio/gio.h>
#include "glib-lazy.h"
#pragma GCC visibility pop
#include "lazy-load.h"

// libgio's soname since GLib 2.0; dlsym on its handle also searches libgobject and libglib.
#define MC_LIBGIO "libgio-2.0.so.0"

// X(return type, name, parameters, arguments); V for void functions.
#define MC_FUNCTIONS(X, V)                                                                            \
  X(GDBusConnection *, g_bus_get_sync, (GBusType t, GCancellable *c, GError **e), (t, c, e))          \
  V(g_dbus_connection_call,                                                                           \
    (GDBusConnection *connection, const gchar *bus_name, const gchar *object_path,                    \
     const gchar *interface_name, const gchar *method_name, GVariant *parameters,                      \
     const GVariantType *reply_type, GDBusCallFlags flags, gint timeout_msec,                          \
     GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data),                     \
    (connection, bus_name, object_path, interface_name, method_name, parameters, reply_type, flags,    \
     timeout_msec, cancellable, callback, user_data))                                                  \
  X(GVariant *, g_dbus_connection_call_finish, (GDBusConnection *c, GAsyncResult *r, GError **e),    \
    (c, r, e))                                                                                          \
  X(GVariant *, g_dbus_connection_call_sync,                                                           \
    (GDBusConnection *connection, const gchar *bus_name, const gchar *object_path,                    \
     const gchar *interface_name, const gchar *method_name, GVariant *parameters,                      \
     const GVariantType *reply_type, GDBusCallFlags flags, gint timeout_msec,                          \
     GCancellable *cancellable, GError **error),                                                       \
    (connection, bus_name, object_path, interface_name, method_name, parameters, reply_type, flags,    \
     timeout_msec, cancellable, error))                                                                \
  X(GDBusConnection *, g_dbus_connection_new_for_address_sync,                                         \
    (const gchar *a, GDBusConnectionFlags f, GDBusAuthObserver *o, GCancellable *c, GError **e),       \
    (a, f, o, c, e))                                                                                    \
  X(guint, g_dbus_connection_signal_subscribe,                                                         \
    (GDBusConnection *connection, const gchar *sender, const gchar *interface_name,                    \
     const gchar *member, const gchar *object_path, const gchar *arg0, GDBusSignalFlags flags,         \
     GDBusSignalCallback callback, gpointer user_data, GDestroyNotify user_data_free_func),            \
    (connection, sender, interface_name, member, object_path, arg0, flags, callback, user_data,        \
     user_data_free_func))                                                                              \
  V(g_dbus_connection_signal_unsubscribe, (GDBusConnection *c, guint id), (c, id))                     \
  X(gchar *, g_dbus_error_get_remote_error, (const GError *e), (e))                                    \
  X(GQuark, g_dbus_error_quark, (void), ())                                                            \
  X(gboolean, g_dbus_error_strip_remote_error, (GError *e), (e))                                       \
  V(g_error_free, (GError *e), (e))                                                                    \
  X(gboolean, g_file_get_contents, (const gchar *f, gchar **c, gsize *l, GError **e), (f, c, l, e))    \
  V(g_free, (gpointer m), (m))                                                                         \
  X(gint64, g_get_monotonic_time, (void), ())                                                          \
  X(GQuark, g_io_error_quark, (void), ())                                                              \
  X(gboolean, g_main_context_iteration, (GMainContext *c, gboolean b), (c, b))                         \
  X(GMainContext *, g_main_context_new, (void), ())                                                    \
  V(g_main_context_pop_thread_default, (GMainContext *c), (c))                                         \
  V(g_main_context_push_thread_default, (GMainContext *c), (c))                                        \
  V(g_main_context_unref, (GMainContext *c), (c))                                                      \
  V(g_object_unref, (gpointer o), (o))                                                                 \
  X(GQuark, g_spawn_error_quark, (void), ())                                                           \
  X(gboolean, g_variant_get_boolean, (GVariant *v), (v))                                               \
  X(GVariant *, g_variant_get_child_value, (GVariant *v, gsize i), (v, i))                             \
  X(gconstpointer, g_variant_get_fixed_array, (GVariant *v, gsize *n, gsize s), (v, n, s))             \
  X(const gchar *, g_variant_get_string, (GVariant *v, gsize *l), (v, l))                              \
  X(const gchar *, g_variant_get_type_string, (GVariant *v), (v))                                      \
  X(guint32, g_variant_get_uint32, (GVariant *v), (v))                                                 \
  X(GVariant *, g_variant_get_variant, (GVariant *v), (v))                                             \
  X(gsize, g_variant_n_children, (GVariant *v), (v))                                                   \
  X(GVariant *, g_variant_new_array, (const GVariantType *t, GVariant *const *c, gsize n), (t, c, n))  \
  X(GVariant *, g_variant_new_boolean, (gboolean b), (b))                                              \
  X(GVariant *, g_variant_new_dict_entry, (GVariant *k, GVariant *v), (k, v))                          \
  X(GVariant *, g_variant_new_from_data,                                                               \
    (const GVariantType *t, gconstpointer d, gsize s, gboolean tr, GDestroyNotify n, gpointer u),      \
    (t, d, s, tr, n, u))                                                                                \
  X(GVariant *, g_variant_new_object_path, (const gchar *p), (p))                                      \
  X(GVariant *, g_variant_new_string, (const gchar *s), (s))                                           \
  X(GVariant *, g_variant_new_tuple, (GVariant *const *c, gsize n), (c, n))                            \
  X(GVariant *, g_variant_new_variant, (GVariant *v), (v))                                             \
  X(GVariant *, g_variant_ref_sink, (GVariant *v), (v))                                                \
  V(g_variant_type_free, (GVariantType *t), (t))                                                       \
  X(GVariantType *, g_variant_type_new, (const gchar *s), (s))                                         \
  V(g_variant_unref, (GVariant *v), (v))

// RTLD_GLOBAL: GIO loads its own modules (the GSettings backend, gvfs) and they expect GLib's symbols in
// the global scope, as when the executable links GLib.
#define MC_LAZY_LOADER mailcred_glib_load
MC_LAZY_LIBRARY("GLib", MC_LIBGIO, RTLD_NOW | RTLD_GLOBAL)
