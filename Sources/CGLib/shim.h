// GIO's D-Bus client and the GLib pieces it needs: the Secret Service is spoken over GDBus directly (no
// libsecret: its writes have no deadline and wait for prompts for ever). Only MailcredKeyring imports this.
#include <gio/gio.h>
