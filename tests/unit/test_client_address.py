"""Which client sent a request (core/client_address.py): forwarded headers count only from a proxy."""

from __future__ import annotations

import pytest

from core.client_address import client_address, client_pseudonym


def headers(**values):
    lowered = {name.replace("_", "-").lower(): value for name, value in values.items()}
    return lambda name: lowered.get(name.lower())


@pytest.mark.parametrize(("peer", "hdrs", "trusted", "expected"), [
    # Direct clients: forged headers are ignored.
    ("203.0.113.7", headers(x_real_ip="198.51.100.1", x_forwarded_for="198.51.100.2"), [], "203.0.113.7"),
    ("203.0.113.7", headers(x_real_ip="198.51.100.1"), ["127.0.0.1"], "203.0.113.7"),
    # From the configured proxy: X-Real-IP, else the right-most X-Forwarded-For hop that is not a proxy.
    ("127.0.0.1", headers(x_real_ip="198.51.100.1"), ["127.0.0.1"], "198.51.100.1"),
    ("127.0.0.1", headers(x_forwarded_for="6.6.6.6, 198.51.100.2, 10.0.0.5"), ["127.0.0.1", "10.0.0.0/8"],
     "198.51.100.2"),
    ("10.1.2.3", headers(x_real_ip="198.51.100.1"), ["10.0.0.0/8"], "198.51.100.1"),
    ("127.0.0.1", headers(), ["127.0.0.1"], "127.0.0.1"),
    ("127.0.0.1", headers(x_real_ip="không phải địa chỉ"), ["127.0.0.1"], "127.0.0.1"),
    # IPv6 clients count per /64; IPv4-mapped addresses as IPv4.
    ("2001:db8:1:2:aaaa::1", headers(), [], "2001:db8:1:2::/64"),
    ("::ffff:203.0.113.7", headers(), [], "203.0.113.7"),
    (None, headers(), [], None),
])
def test_client_address(peer, hdrs, trusted, expected):
    assert client_address(peer, hdrs, trusted) == expected


def test_pseudonym_is_stable_keyed_and_not_the_address():
    one = client_pseudonym(b"secret-1", "203.0.113.7")
    assert one == client_pseudonym(b"secret-1", "203.0.113.7") and len(one) == 24
    assert one != client_pseudonym(b"secret-2", "203.0.113.7")
    assert one != client_pseudonym(b"secret-1", "203.0.113.8")
    assert "203" not in one and client_pseudonym(b"secret-1", None) is None
