// The floor under `mailcred get` as long as it speaks D-Bus through GDBus (scripts/bench builds it):
// a C process that links libgio, connects to the session bus and makes N Secret Service calls
// (ReadAlias, a cheap read). `gio-floor 0` is the cost of starting a process that links libgio at all.
#include <gio/gio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
  int calls = argc > 1 ? atoi(argv[1]) : 0;
  if (calls == 0) return 0;
  GDBusConnection *bus = g_bus_get_sync(G_BUS_TYPE_SESSION, NULL, NULL);
  if (!bus) return 1;
  for (int i = 0; i < calls; i++) {
    GVariant *reply = g_dbus_connection_call_sync(bus, "org.freedesktop.secrets", "/org/freedesktop/secrets",
      "org.freedesktop.Secret.Service", "ReadAlias", g_variant_new("(s)", "default"), NULL,
      G_DBUS_CALL_FLAGS_NONE, 5000, NULL, NULL);
    if (!reply) return 1;
    g_variant_unref(reply);
  }
  return 0;
}
