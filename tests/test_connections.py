"""Saved connections: host parsing, validation, persistence without secrets, import and export."""

from __future__ import annotations

import json

import pytest

from console.api import Trust, TrustMode
from console.connections import (
    PALETTE,
    TRUST_CA_FILE,
    TRUST_PINNED,
    Address,
    Connection,
    ConnectionFileError,
    ConnectionStore,
    InvalidConnection,
    next_colour,
    parse_host,
    unique_name,
)

FP = "ab" * 32
FP_COLONS = ":".join(["AB"] * 32)


@pytest.mark.parametrize(
    ("text", "host", "port"),
    [
        ("array.example.com", "array.example.com", 443),
        ("  Array-A.Example.COM.  ", "array-a.example.com", 443),
        ("10.0.0.5:8443", "10.0.0.5", 8443),
        ("[fe80::1]:9443", "fe80::1", 9443),
        ("fe80::1", "fe80::1", 443),
        ("https://array:8443", "array", 8443),
        ("https://array/api/rest", "array", 443),
        ("HTTPS://array/", "array", 443),
        ("localhost", "localhost", 443),
    ],
)
def test_hosts_are_read_as_users_type_them(text, host, port):
    assert parse_host(text) == Address(host, port)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "Enter the array"),
        ("   ", "Enter the array"),
        ("http://array", "HTTPS"),
        ("array:0", "1 to 65535"),
        ("array:70000", "1 to 65535"),
        ("array:https", "1 to 65535"),
        ("my array", "no spaces"),
        ("array/ui/login", "without a path"),
        ("admin@array", "without user"),
        ("[fe80::1", "closing"),
        ("[fe80::1]x", "Only ':port'"),
        ("under_score.example", "not a valid host name"),
        ("-leading.example", "not a valid host name"),
        ("300.1.1.1", "not a valid IPv4"),
        ("fe80::zz", "not a valid IPv6"),
        (":8443", "No host"),
    ],
)
def test_bad_hosts_are_refused_with_a_clear_message(text, words):
    with pytest.raises(InvalidConnection, match=words) as info:
        parse_host(text)
    assert info.value.field == "host"


def test_address_renders_back_with_port_only_when_needed():
    assert str(Address("array")) == "array"
    assert str(Address("array", 8443)) == "array:8443"
    assert str(Address("fe80::1", 8443)) == "[fe80::1]:8443"
    assert Address("fe80::1").origin == "https://[fe80::1]:443"


def test_create_validates_and_normalises():
    c = Connection.create(" prod-a ", "Array-A:8443", " admin ", trust_mode=TRUST_PINNED, fingerprint=FP)
    assert (c.name, c.host, c.user) == ("prod-a", "array-a:8443", "admin")
    assert c.fingerprint == FP_COLONS
    assert c.base_url == "https://array-a:8443"
    assert c.trust() == Trust.pinned(FP)
    assert len(c.id) == 32


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": " "}, "name"),
        ({"name": "x" * 65}, "name"),
        ({"user": ""}, "user"),
        ({"user": "ad min"}, "user"),
        ({"user": "a:b"}, "user"),
        ({"host": "http://x"}, "host"),
        ({"trust_mode": "whatever"}, "trust"),
        ({"trust_mode": TRUST_PINNED, "fingerprint": None}, "trust"),
        ({"trust_mode": TRUST_PINNED, "fingerprint": "12:34"}, "trust"),
        ({"trust_mode": TRUST_CA_FILE, "ca_file": "  "}, "trust"),
    ],
)
def test_invalid_settings_name_their_field(changes, field):
    base = Connection.create("a", "array", "admin")
    with pytest.raises(InvalidConnection) as info:
        base.replace(**changes)
    assert info.value.field == field
    assert info.value.message


def test_trust_modes_map_to_client_trust(tmp_path):
    system = Connection.create("a", "array", "admin")
    assert system.trust().mode is TrustMode.SYSTEM
    ca = system.replace(trust_mode=TRUST_CA_FILE, ca_file=str(tmp_path / "ca.pem"))
    assert ca.trust() == Trust.ca_file(tmp_path / "ca.pem")
    assert ca.fingerprint is None
    back = ca.replace(trust_mode="system")
    assert (back.ca_file, back.fingerprint) == (None, None)


def test_bad_colour_falls_back_to_the_palette():
    assert Connection.create("a", "array", "admin", colour="red").colour == PALETTE[0]
    assert Connection.create("a", "array", "admin", colour="#ABCDEF").colour == "#abcdef"


def test_next_colour_and_unique_name():
    used = [Connection.create(f"c{i}", "array", "admin", colour=PALETTE[i]) for i in range(3)]
    assert next_colour(used) == PALETTE[3]
    assert unique_name("prod", ["Prod", "prod (2)"]) == "prod (3)"
    assert unique_name("new", ["prod"]) == "new"


def test_the_store_persists_connections_and_never_a_password(tmp_path):
    path = tmp_path / "connections.json"
    store = ConnectionStore(path)
    a = store.add(Connection.create("prod-a", "array-a", "admin", trust_mode=TRUST_PINNED, fingerprint=FP))
    b = store.add(Connection.create("lab", "10.1.1.1:8443", "storage.admin", colour=PALETTE[1]))
    store.update(b.replace(name="lab-1"))
    again = ConnectionStore(path)
    assert [c.name for c in again] == ["prod-a", "lab-1"]
    assert again.get(a.id) == a
    assert again.by_name("LAB-1").id == b.id
    text = path.read_text()
    assert "password" not in text.replace("remember_password", "")
    data = json.loads(text)
    assert data["format"] == 1
    assert data["connections"][0]["trust"] == {"mode": "pinned", "fingerprint": FP_COLONS}
    again.remove(a.id)
    assert [c.name for c in ConnectionStore(path)] == ["lab-1"]


def test_names_are_unique_in_the_store(tmp_path):
    store = ConnectionStore(tmp_path / "c.json")
    store.add(Connection.create("prod", "a", "admin"))
    with pytest.raises(InvalidConnection, match="exists already"):
        store.add(Connection.create("PROD", "b", "admin"))
    assert len(store) == 1


def test_an_unreadable_file_is_kept_aside_never_overwritten(tmp_path):
    path = tmp_path / "connections.json"
    path.write_text("{ this is not json")
    store = ConnectionStore(path)
    assert store.load_error is not None
    assert "not valid JSON" in store.load_error
    assert len(store) == 0
    store.add(Connection.create("new", "array", "admin"))
    kept = [p for p in tmp_path.iterdir() if p.name.startswith("connections.json.unreadable-")]
    assert len(kept) == 1
    assert kept[0].read_text() == "{ this is not json"
    assert "kept as" in store.load_error
    assert [c.name for c in ConnectionStore(path)] == ["new"]


def test_export_and_import_round_trip_without_secrets(tmp_path):
    source = ConnectionStore(tmp_path / "source.json")
    a = source.add(Connection.create("prod-a", "array-a", "admin", trust_mode=TRUST_PINNED, fingerprint=FP))
    source.add(Connection.create("lab", "lab:8443", "operator"))
    exported = tmp_path / "export.json"
    assert source.export_file(exported) == 2
    assert "Password" not in exported.read_text()

    target = ConnectionStore(tmp_path / "target.json")
    target.add(Connection.create("prod-a", "other", "admin"))
    added, warnings = target.import_file(exported)
    assert [c.name for c in added] == ["prod-a (2)", "lab"]
    assert any("prod-a (2)" in w for w in warnings)
    assert [c.name for c in target] == ["prod-a", "prod-a (2)", "lab"]
    assert target.by_name("prod-a (2)").fingerprint == a.fingerprint
    # Importing the same file again never replaces what is there.
    added_again, _ = target.import_file(exported)
    assert len({c.id for c in target}) == len(target) == 5
    assert [c.name for c in added_again] == ["prod-a (3)", "lab (2)"]


def test_importing_passwords_ignores_them_and_says_so(tmp_path):
    path = tmp_path / "with-secret.json"
    path.write_text(json.dumps([{"name": "a", "host": "array", "user": "admin", "password": "Secret#123"}]))
    store = ConnectionStore(tmp_path / "c.json")
    added, warnings = store.import_file(path)
    assert [c.name for c in added] == ["a"]
    assert any("password fields" in w for w in warnings)
    assert "Secret#123" not in (tmp_path / "c.json").read_text()


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("not json", "not valid JSON"),
        ('{"something": 1}', "no list of connections"),
        ('{"format": 9, "connections": []}', "format 9"),
        (
            '[{"name": "a", "host": "http://x", "user": "admin"}]',
            "connection 1 ('a'): Arrays are managed over HTTPS",
        ),
        (
            '[{"name": "a", "host": "x", "user": "admin"}, {"name": "b", "user": "u"}]',
            "connection 2 ('b'): 'host'",
        ),
        ('[{"name": "a", "host": "x", "user": "admin", "trust": "pinned"}]', "'trust' must be an object"),
        ('["text"]', "connection 1: an entry must be a JSON object"),
    ],
)
def test_bad_import_files_are_refused_whole_and_nothing_is_lost(tmp_path, content, words):
    store = ConnectionStore(tmp_path / "c.json")
    store.add(Connection.create("keep", "array", "admin"))
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    with pytest.raises(ConnectionFileError, match=r"bad\.json") as info:
        store.import_file(bad)
    assert words in str(info.value)
    assert [c.name for c in ConnectionStore(tmp_path / "c.json")] == ["keep"]


def test_import_of_a_missing_or_binary_file_is_a_clear_error(tmp_path):
    store = ConnectionStore(tmp_path / "c.json")
    with pytest.raises(ConnectionFileError, match="cannot read"):
        store.import_file(tmp_path / "missing.json")
    binary = tmp_path / "binary.json"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ConnectionFileError, match="not a text"):
        store.import_file(binary)


def test_export_to_an_unwritable_place_is_a_clear_error(tmp_path):
    store = ConnectionStore(tmp_path / "c.json")
    (tmp_path / "file").write_text("")
    with pytest.raises(ConnectionFileError, match="cannot write"):
        store.export_file(tmp_path / "file" / "export.json")
