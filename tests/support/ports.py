"""Local ports and sockets for servers under test, so tests never collide."""

import socket


def free_ports(n: int) -> list[int]:
    """``n`` distinct ports with nothing listening on 127.0.0.1 right now."""
    socks = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in socks]
    finally:
        for s in socks:
            s.close()


def free_port() -> int:
    """A port with nothing listening on 127.0.0.1 right now."""
    return free_ports(1)[0]


def bound_socket() -> socket.socket:
    """A TCP socket bound to a free 127.0.0.1 port, to hand to a server (no race for the port)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    return sock
