#!/usr/bin/python3
"""Talk to the test environment's Secret Service (gnome-keyring) over D-Bus, with bounded waits.

  secret-service.py wait SECONDS   poll ReadAlias("default") until it names the login collection; print the
                                   daemon's pid (from the bus, since --daemonize forks and reports none)
  secret-service.py lock           Service.Lock([login])  (secret-tool lock segfaults or hangs in 0.20.5)
  secret-service.py unlock FILE    gnome-keyring's UnlockWithMasterPassword, password read from FILE
                                   (a plain session: the secret crosses only our private bus)
  secret-service.py state          print "locked" or "unlocked"
  secret-service.py gone SECONDS   wait until nobody owns org.freedesktop.secrets

Needs DBUS_SESSION_BUS_ADDRESS (source DIR/env first). The private bus has no service directories, so a
call made while the daemon is not (yet) on the bus fails with ServiceUnknown instead of activating a second
daemon.
"""
import sys, time

import dbus

NAME = "org.freedesktop.secrets"
SERVICE = "/org/freedesktop/secrets"
LOGIN = "/org/freedesktop/secrets/collection/login"
TIMEOUT = 5  # seconds per D-Bus call


def service(bus):
    return bus.get_object(NAME, SERVICE, introspect=False)


def locked(bus):
    return bool(bus.get_object(NAME, LOGIN, introspect=False).Get(
        "org.freedesktop.Secret.Collection", "Locked",
        dbus_interface="org.freedesktop.DBus.Properties", timeout=TIMEOUT))


def wait(bus, seconds):
    deadline = time.monotonic() + seconds
    last = "no answer yet"
    while True:
        try:
            path = service(bus).ReadAlias("default", dbus_interface="org.freedesktop.Secret.Service",
                                          timeout=TIMEOUT)
            if str(path) == LOGIN:
                if locked(bus):
                    # e.g. DIR started again with a keyring file encrypted under another password
                    print("secret service is up but the login collection is locked", file=sys.stderr)
                    return 1
                pid = bus.get_object("org.freedesktop.DBus", "/org/freedesktop/DBus", introspect=False) \
                    .GetConnectionUnixProcessID(NAME, dbus_interface="org.freedesktop.DBus")
                print(int(pid))
                return 0
            last = f"ReadAlias(default) answered {path!r}"
        except dbus.DBusException as e:
            last = f"{e.get_dbus_name()}: {e.get_dbus_message()}"
        if time.monotonic() >= deadline:
            print(f"secret service not ready after {seconds:g} s: {last}", file=sys.stderr)
            return 1
        time.sleep(0.01)


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 64
    cmd = sys.argv[1]
    bus = dbus.SessionBus()
    if cmd == "wait":
        return wait(bus, float(sys.argv[2]))
    if cmd == "gone":
        deadline = time.monotonic() + float(sys.argv[2])
        dbus_iface = dbus.Interface(bus.get_object("org.freedesktop.DBus", "/org/freedesktop/DBus"),
                                    "org.freedesktop.DBus")
        while dbus_iface.NameHasOwner(NAME):
            if time.monotonic() >= deadline:
                print(f"{NAME} still owned after {sys.argv[2]} s", file=sys.stderr)
                return 1
            time.sleep(0.01)
        return 0
    if cmd == "state":
        print("locked" if locked(bus) else "unlocked")
        return 0
    svc = service(bus)
    if cmd == "lock":
        svc.Lock([dbus.ObjectPath(LOGIN)], dbus_interface="org.freedesktop.Secret.Service", timeout=TIMEOUT)
        if not locked(bus):
            print("login collection still unlocked after Lock", file=sys.stderr)
            return 1
        return 0
    if cmd == "unlock":
        with open(sys.argv[2], "rb") as f:
            password = f.read()
        _, session = svc.OpenSession("plain", dbus.String("", variant_level=1),
                                     dbus_interface="org.freedesktop.Secret.Service", timeout=TIMEOUT)
        secret = dbus.Struct((session, dbus.ByteArray(b""), dbus.ByteArray(password), "text/plain"),
                             signature="oayays")
        try:
            svc.UnlockWithMasterPassword(
                dbus.ObjectPath(LOGIN), secret,
                dbus_interface="org.gnome.keyring.InternalUnsupportedGuiltRiddenInterface", timeout=TIMEOUT)
        finally:
            bus.get_object(NAME, session, introspect=False).Close(
                dbus_interface="org.freedesktop.Secret.Session", timeout=TIMEOUT)
        if locked(bus):
            print("login collection still locked after UnlockWithMasterPassword", file=sys.stderr)
            return 1
        return 0
    print(f"unknown command {cmd!r}", file=sys.stderr)
    return 64


if __name__ == "__main__":
    try:
        sys.exit(main())
    except dbus.DBusException as e:
        print(f"secret-service.py: {e.get_dbus_name()}: {e.get_dbus_message()}", file=sys.stderr)
        sys.exit(69)
