"""Which network addresses the web tools may connect to, whatever way they are spelled."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass

from ._errors import ToolError

__all__ = ["AddressPolicy", "IPAddress", "ip_literal"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

METADATA = frozenset(
    {
        ipaddress.ip_address("169.254.169.254"),  # AWS, GCP, Azure, OpenStack...
        ipaddress.ip_address("fd00:ec2::254"),  # AWS over IPv6
        ipaddress.ip_address("100.100.100.200"),  # Alibaba Cloud
    }
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _legacy_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """An IPv4 address in any form `inet_aton` accepts: `2130706433`, `0177.0.0.1`, `127.1`."""
    parts = host.split(".")
    if not 1 <= len(parts) <= 4:
        return None
    numbers = []
    for part in parts:
        try:
            if part.lower().startswith("0x"):
                numbers.append(int(part[2:] or "0", 16))
            elif len(part) > 1 and part.startswith("0"):
                numbers.append(int(part, 8))
            else:
                numbers.append(int(part, 10) if part.isascii() and part.isdigit() else -1)
        except ValueError:
            return None
    if any(n < 0 for n in numbers):
        return None
    *head, last = numbers
    if any(n > 255 for n in head) or last >= 256 ** (5 - len(numbers)):
        return None
    value = last
    for index, number in enumerate(head):
        value += number << (8 * (3 - index))
    return ipaddress.IPv4Address(value)


def ip_literal(host: str) -> IPAddress | None:
    """The address `host` spells, if it is an address (IPv6 with or without brackets too)."""
    bare = host.strip("[]").rstrip(".")
    try:
        return ipaddress.ip_address(bare.split("%", 1)[0])
    except ValueError:
        return _legacy_ipv4(bare)


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries (mapped, 6to4, Teredo client, NAT64), if any."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


@dataclass(frozen=True)
class AddressPolicy:
    """Refuses private, loopback, link-local, multicast, reserved and cloud-metadata addresses.

    Attributes:
        allow_private: allow every address except cloud metadata (for intranets and tests).
        allow_metadata: allow cloud-metadata addresses too.
        dns_timeout: seconds a name may take to resolve.
    """

    allow_private: bool = False
    allow_metadata: bool = False
    dns_timeout: float = 5.0

    def refusal(self, address: IPAddress) -> str | None:
        """Why `address` is refused, or None if it is allowed."""
        if address in METADATA and not self.allow_metadata:
            return "a cloud metadata address"
        if isinstance(address, ipaddress.IPv6Address):
            embedded = _embedded_ipv4(address)
            if embedded is not None:
                return self.refusal(embedded)
        if self.allow_private:
            return None
        if address.is_multicast:
            return "a multicast address"
        if address.is_loopback or address.is_unspecified:
            return "a loopback or unspecified address"
        if address.is_link_local:
            return "a link-local address"
        if not address.is_global or address.is_reserved:
            return "a private or reserved address"
        return None

    def check(self, address: IPAddress, host: str) -> None:
        """Raise a `ToolError` if `address` (which `host` named) is refused."""
        why = self.refusal(address)
        if why is not None:
            shown = host if host == str(address) else f"{host} ({address})"
            raise ToolError(f"refused: {shown} is {why}")

    async def resolve(self, host: str, port: int) -> IPAddress:
        """The first address of `host`, after checking that every address it has is allowed."""
        literal = ip_literal(host)
        if literal is not None:
            self.check(literal, host)
            return literal
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self.dns_timeout):
                found = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except TimeoutError:
            raise ToolError(f"{host}: the name did not resolve in {self.dns_timeout:g} s") from None
        except (OSError, UnicodeError) as exc:
            raise ToolError(f"{host}: the name does not resolve ({exc})") from None
        addresses = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in found]
        if not addresses:
            raise ToolError(f"{host}: the name has no address")
        for address in addresses:
            self.check(address, host)
        return addresses[0]
