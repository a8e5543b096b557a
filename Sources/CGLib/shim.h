// GIO's D-Bus client and the GLib pieces it needs: the Secret Service is spoken over GDBus directly (no
// libsecret: its writes have no deadline and wait for prompts for ever). Only MailcredKeyring imports this.
// Headers only: CGLibLazy defines the functions called and loads GLib on first use.
#include <gio/gio.h>
