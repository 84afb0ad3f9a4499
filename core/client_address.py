"""Which client sent a request: the rule every channel uses to fill the server-side ``client`` metadata.

The address is the TCP peer, unless the peer is a configured proxy (TRUSTED_PROXIES, e.g. the scaled profile's
nginx on 127.0.0.1): then the address nginx reports (``X-Real-IP``, else the right-most ``X-Forwarded-For`` entry
that is not a proxy). Headers from anyone else are ignored, so a client cannot pick its own address. IPv6 clients
count per /64 (one subscriber's prefix). The value stored with a message is a keyed pseudonym of that address
(:func:`client_pseudonym`), not the address itself: it is personal data and the limiter only needs equality.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from typing import Callable, Iterable, Optional, Union

Address = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]
Network = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]

# The message metadata key the channels set (overwriting anything the client sent) and the actions read.
METADATA_KEY = "client"


def _parse(value: Optional[str]) -> Optional[Address]:
    if not value:
        return None
    text = value.strip()
    if text.startswith("[") and "]" in text:  # [::1]:port
        text = text[1:text.index("]")]
    elif text.count(":") == 1:  # 1.2.3.4:port
        text = text.split(":", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def trusted_networks(entries: Iterable[str]) -> list:
    """TRUSTED_PROXIES entries (addresses or CIDR networks) as networks; invalid entries are ignored."""
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            continue
    return networks


def _is_trusted(address: Address, networks: Iterable[Network]) -> bool:
    return any(address.version == net.version and address in net for net in networks)


def client_address(peer: Optional[str], header: Callable[[str], Optional[str]],
                   trusted: Iterable[str]) -> Optional[str]:
    """The client's address (IPv6 as its /64 network), or None when the peer is unknown.

    ``header(name)`` returns a request header (case-insensitive name) or None.
    """
    networks = trusted_networks(trusted)
    address = _parse(peer)
    if address is None:
        return None
    if _is_trusted(address, networks):
        forwarded = _parse(header("x-real-ip"))
        if forwarded is None:
            for hop in reversed((header("x-forwarded-for") or "").split(",")):
                hop_address = _parse(hop)
                if hop_address is not None and not _is_trusted(hop_address, networks):
                    forwarded = hop_address
                    break
        address = forwarded or address
    if address.version == 6 and not address.ipv4_mapped:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    if address.version == 6:
        return str(address.ipv4_mapped)
    return str(address)


def client_pseudonym(secret: bytes, address: Optional[str]) -> Optional[str]:
    """A stable keyed pseudonym of ``address`` (24 hex characters), or None without an address."""
    if not address:
        return None
    return hmac.new(secret, b"client:" + address.encode("ascii"), hashlib.sha256).hexdigest()[:24]
