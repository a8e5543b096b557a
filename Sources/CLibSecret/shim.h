// libsecret and the GLib pieces mailcred uses. Only MailcredKeyring imports this module.
// SecretItem by D-Bus path (secret-paths.h) is behind the "unstable" switch in libsecret 0.20.
#define SECRET_WITH_UNSTABLE 1
#define SECRET_API_SUBJECT_TO_CHANGE 1
#include <libsecret/secret.h>
#include <gio/gio.h>

// Callable stand-ins for GLib macros Swift cannot import.
static inline GType mailcred_secret_item_type(void) { return secret_item_get_type(); }
