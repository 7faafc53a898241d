"""Passwords go to the OS keyring (a test backend here), or stay in memory with a reason why."""

from __future__ import annotations

import logging

import pytest

from console.secrets import SERVICE, SecretStore, account, probe
from tests.keyrings import BrokenKeyring, MemoryKeyring, installed, no_keyring


def test_a_working_keyring_holds_one_entry_per_connection():
    with installed(MemoryKeyring()) as backend:
        store = SecretStore()
        assert store.persistent
        assert store.status.reason == ""
        assert store.remember("c1", "Secret#1", persist=True)
        assert backend.entries == {(SERVICE, account("c1")): "Secret#1"}
        assert SecretStore().get("c1") == "Secret#1"  # a new session reads it back
        store.forget("c1")
        assert backend.entries == {}
        assert SecretStore().get("c1") is None


def test_not_remembering_removes_an_older_entry_but_keeps_the_session_copy():
    with installed(MemoryKeyring()) as backend:
        store = SecretStore()
        store.remember("c1", "Old#1", persist=True)
        assert not store.remember("c1", "New#1", persist=False)
        assert backend.entries == {}
        assert store.get("c1") == "New#1"


def test_hold_keeps_a_password_for_the_session_without_touching_the_keyring():
    with installed(MemoryKeyring()) as backend:
        store = SecretStore()
        store.remember("c1", "Saved#1", persist=True)
        store.hold("c1", "Trying#2")
        assert store.get("c1") == "Trying#2"
        assert backend.entries[(SERVICE, account("c1"))] == "Saved#1"
        store.forget_session("c1")
        assert store.get("c1") == "Saved#1"


def test_without_a_keyring_passwords_live_for_the_session_only_and_the_reason_is_given():
    with installed(no_keyring()):
        store = SecretStore()
        assert not store.persistent
        assert "No usable OS keyring" in store.status.reason
        assert "once per session" in store.status.reason
        assert not store.remember("c1", "Secret#1", persist=True)
        assert store.get("c1") == "Secret#1"
        assert SecretStore().get("c1") is None


@pytest.mark.parametrize(
    ("module", "words"),
    [("keyrings.alt.file", "plain-text file"), ("keyring.backends.null", "never keeps anything")],
)
def test_keyrings_that_would_not_keep_a_secret_safely_are_refused(module, words):
    fake = type(
        "PlaintextKeyring" if "alt" in module else "Keyring", (MemoryKeyring,), {"__module__": module}
    )
    status = probe(fake())
    assert not status.usable
    assert words in status.reason


def test_a_keyring_that_fails_in_use_falls_back_to_the_session_and_says_why(caplog):
    caplog.set_level(logging.WARNING)
    with installed(BrokenKeyring()):
        store = SecretStore()
        assert store.persistent  # it looked fine
        assert store.get("c1") is None
        assert not store.persistent
        assert "KeyringLocked" in store.status.reason
        assert not store.remember("c1", "Secret#1", persist=True)
        assert store.get("c1") == "Secret#1"
    assert "Secret#1" not in caplog.text
    assert "failed while reading" in caplog.text
