#!/usr/bin/python3
"""A scripted Secret Service that loses gnome-keyring's client-registration race on purpose.

  racy-secret-service.py ADDRESS READY-FILE VIOLATIONS-FILE

gnome-keyring (42 to 50 at least; upstream issues 190 and 196) registers a new D-Bus client from an idle
callback that its method dispatch can beat. A call handled before the client is registered finds no client
record: SearchItems then fails with UnknownMethod, ReadAlias answers "/" (no default collection), and
OpenSession aborts the whole daemon. This service does exactly that for each new sender's first call, every
time, so a client that opens a session (or reads the default alias) before the service has answered one of
its SearchItems is caught: its OpenSession is written to VIOLATIONS-FILE (where the real daemon would have
died) and answered with an error. Later calls behave: one unlocked "login" collection, a plain session,
items made by CreateItem (their attributes and secrets in memory) and found by SearchItems.

Owns org.freedesktop.secrets on the bus at ADDRESS; writes READY-FILE once it does. Ends on SIGTERM/SIGKILL.
"""
import sys

import dbus
import dbus.service
from dbus.mainloop.glib import DBusGMainLoop
from gi.repository import GLib

SERVICE = "org.freedesktop.Secret.Service"
COLLECTION = "org.freedesktop.Secret.Collection"
ITEM = "org.freedesktop.Secret.Item"
PROPERTIES = "org.freedesktop.DBus.Properties"
LOGIN = "/org/freedesktop/secrets/collection/login"

address, ready_file, violations_file = sys.argv[1:4]
DBusGMainLoop(set_as_default=True)
bus = dbus.bus.BusConnection(address)
registered = set()  # senders whose first call has been "handled before registration"
items = {}  # path -> (attributes, secret bytes)


def first_call(sender):
    """True the first time a sender calls: the call is handled as if its client record were missing."""
    if sender in registered:
        return False
    registered.add(sender)
    return True


def violation(text):
    with open(violations_file, "a") as f:
        f.write(text + "\n")


class UnknownMethod(dbus.DBusException):
    _dbus_error_name = "org.freedesktop.DBus.Error.UnknownMethod"


class Failed(dbus.DBusException):
    _dbus_error_name = "org.freedesktop.DBus.Error.Failed"


class Service(dbus.service.Object):
    @dbus.service.method(SERVICE, in_signature="a{ss}", out_signature="aoao", sender_keyword="sender")
    def SearchItems(self, attributes, sender=None):
        if first_call(sender):
            raise UnknownMethod("Method SearchItems is not implemented on interface " + SERVICE)
        found = [p for p, (a, _) in items.items() if all(a.get(k) == v for k, v in attributes.items())]
        return (dbus.Array(found, signature="o"), dbus.Array([], signature="o"))

    @dbus.service.method(SERVICE, in_signature="sv", out_signature="vo", sender_keyword="sender")
    def OpenSession(self, algorithm, _input, sender=None):
        if first_call(sender):
            violation("OpenSession from %s before it was registered (gnome-keyring aborts here)" % sender)
            raise Failed("the daemon would have aborted")
        return (dbus.String("", variant_level=1), dbus.ObjectPath("/org/freedesktop/secrets/session/1"))

    @dbus.service.method(SERVICE, in_signature="s", out_signature="o", sender_keyword="sender")
    def ReadAlias(self, name, sender=None):
        if first_call(sender) or name != "default":
            return dbus.ObjectPath("/")
        return dbus.ObjectPath(LOGIN)

    @dbus.service.method(SERVICE, in_signature="aoo", out_signature="a{o(oayays)}", sender_keyword="sender")
    def GetSecrets(self, paths, session, sender=None):
        if first_call(sender):
            raise UnknownMethod("Method GetSecrets is not implemented on interface " + SERVICE)
        return dbus.Dictionary(
            {p: (session, dbus.ByteArray(b""), dbus.ByteArray(items[p][1]), "text/plain") for p in paths if p in items},
            signature="o(oayays)")


class Collection(dbus.service.Object):
    @dbus.service.method(PROPERTIES, in_signature="ss", out_signature="v", sender_keyword="sender")
    def Get(self, interface, name, sender=None):
        first_call(sender)
        if name == "Locked":
            return dbus.Boolean(False, variant_level=1)
        raise Failed("no property " + name)

    @dbus.service.method(COLLECTION, in_signature="a{sv}(oayays)b", out_signature="oo", sender_keyword="sender")
    def CreateItem(self, properties, secret, replace, sender=None):
        first_call(sender)
        path = "%s/%d" % (LOGIN, len(items) + 1)
        attributes = dict(properties.get(ITEM + ".Attributes", {}))
        items[path] = (attributes, bytes(secret[2]))
        Item(bus, path)
        return (dbus.ObjectPath(path), dbus.ObjectPath("/"))


class Item(dbus.service.Object):
    @dbus.service.method(PROPERTIES, in_signature="ss", out_signature="v")
    def Get(self, interface, name):
        attributes, _ = items[self._object_path]
        if name == "Attributes":
            return dbus.Dictionary(attributes, signature="ss", variant_level=1)
        if name == "Locked":
            return dbus.Boolean(False, variant_level=1)
        raise Failed("no property " + name)


Service(bus, "/org/freedesktop/secrets")
Collection(bus, LOGIN)
name = dbus.service.BusName("org.freedesktop.secrets", bus)  # kept: released when collected
open(ready_file, "w").close()
GLib.MainLoop().run()
