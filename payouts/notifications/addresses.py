"""Where a client's webhook may be sent: never into our own network (SSRF).

Outside development and tests (`WEBHOOK_ALLOW_PRIVATE_URLS` off) an endpoint URL must be `https`,
carry no credentials, and its host must resolve only to public addresses: loopback, private,
link-local (the cloud metadata service at 169.254.169.254 included), shared, reserved, multicast
and unspecified addresses are refused, IPv4 inside IPv6 too. The check runs when the endpoint is
registered and again before every delivery (what a name resolves to can change), and a delivery
then connects to the very address it checked.
"""

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from django.conf import settings

URL_MAX_LENGTH = 2048


class AddressRefused(ValueError):
    """The URL may not receive webhooks; the message says why."""


@dataclass(frozen=True)
class Target:
    """Where to connect for a URL: the URL as given, or (when addresses are checked) the same URL
    with the checked address in place of the name, the name going in `Host` and TLS's SNI."""

    url: str
    host_header: str | None = None
    sni_hostname: str | None = None


def url_checked(url: str) -> SplitResult:
    """URL's parts when it may be registered (its shape; and, outside development, its addresses);
    raises `AddressRefused` otherwise."""
    if len(url) > URL_MAX_LENGTH or not url.isascii() or not url.isprintable():
        raise AddressRefused(f"A URL is at most {URL_MAX_LENGTH} printable ASCII characters.")
    parts = urlsplit(url)
    allowed = {"http", "https"} if settings.WEBHOOK_ALLOW_PRIVATE_URLS else {"https"}
    if parts.scheme not in allowed:
        raise AddressRefused(f"The URL must start with {' or '.join(sorted(allowed))}://.")
    if not parts.hostname:
        raise AddressRefused("The URL has no host.")
    if parts.username is not None or parts.password is not None:
        raise AddressRefused("The URL may not carry credentials.")
    try:
        parts.port  # noqa: B018 (raises for a port out of range)
    except ValueError:
        raise AddressRefused("The URL's port is not a port.") from None
    if not settings.WEBHOOK_ALLOW_PRIVATE_URLS:
        public_address(parts)
    return parts


def delivery_target(url: str) -> Target:
    """Where a delivery to URL connects: checked again now, pinned to the address checked."""
    parts = url_checked(url)
    if settings.WEBHOOK_ALLOW_PRIVATE_URLS:
        return Target(url=url)
    address = public_address(parts)
    host = f"[{address}]" if ":" in address else address
    netloc = host if parts.port is None else f"{host}:{parts.port}"
    pinned = parts._replace(netloc=netloc).geturl()
    assert parts.hostname is not None  # url_checked refused a URL without one
    return Target(url=pinned, host_header=parts.netloc, sni_hostname=parts.hostname)


def public_address(parts: SplitResult) -> str:
    """The first address PARTS' host resolves to, when every one of them is public; raises
    `AddressRefused` otherwise (or when it does not resolve)."""
    assert parts.hostname is not None
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise AddressRefused(f"The host {parts.hostname!r} does not resolve.") from None
    addresses = [str(info[4][0]) for info in infos]
    for address in addresses:
        if not _is_public(address):
            raise AddressRefused(f"The host {parts.hostname!r} resolves to a non-public address.")
    if not addresses:
        raise AddressRefused(f"The host {parts.hostname!r} does not resolve.")
    return addresses[0]


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # an IPv6 zone names a local interface
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is not None and not _is_public(str(embedded)):
            return False
    return ip.is_global and not ip.is_multicast
