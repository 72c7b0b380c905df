"""A fault-injecting TCP proxy on 127.0.0.1 for the journal tests.

Each connection is forwarded to ``target`` (changeable while running, so a restarted server on another
port sits behind the same URL). ``down=True`` resets every new connection; ``fault_rate`` resets that
share of connections (seeded): half of them before the request reaches the server, half after the
server answered, with the answer thrown away (the request took effect, the client saw no ack).
"""

from __future__ import annotations

import contextlib
import random
import socket
import struct
import threading


def _reset(sock: socket.socket) -> None:
    """Abort the connection: the peer sees a reset or end of stream at once (shutdown also wakes a
    thread of ours blocked reading it, which a plain close from another thread would not)."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()


class FaultProxy:
    def __init__(self, target_port: int, fault_rate: float = 0.0, seed: int = 0) -> None:
        self.target_port = target_port
        self.fault_rate = fault_rate
        self.down = False
        self.faults = 0
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self._listener.settimeout(0.2)
        self.port = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                continue
            threading.Thread(target=self._handle, args=(client,), daemon=True).start()

    def _roll(self) -> str:
        """"ok", "early" (reset before the request goes on) or "late" (after the server answered)."""
        with self._lock:
            if self.down:
                self.faults += 1
                return "early"
            roll = self._random.random()
            if roll >= self.fault_rate:
                return "ok"
            self.faults += 1
            return "late" if roll < self.fault_rate / 2 else "early"

    def _handle(self, client: socket.socket) -> None:
        if self._roll() == "early":
            _reset(client)
            return
        try:
            upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=30)
        except OSError:
            _reset(client)
            return
        client.settimeout(30)
        drop_next_answer = threading.Event()
        threading.Thread(target=self._requests, args=(client, upstream, drop_next_answer), daemon=True).start()
        self._answers(upstream, client, drop_next_answer)

    def _requests(self, client: socket.socket, upstream: socket.socket, drop: threading.Event) -> None:
        """Client -> server; each chunk (a request, usually) rolls the dice again."""
        try:
            while True:
                data = client.recv(65536)
                if not data:
                    break
                fate = self._roll()
                if fate == "early":
                    _reset(client)
                    break
                if fate == "late":
                    drop.set()
                upstream.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                upstream.shutdown(socket.SHUT_WR)

    @staticmethod
    def _answers(upstream: socket.socket, client: socket.socket, drop: threading.Event) -> None:
        try:
            while True:
                data = upstream.recv(65536)
                if not data:
                    break
                if drop.is_set():  # the server answered: throw the answer away, reset the client
                    _reset(client)
                    break
                client.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                client.shutdown(socket.SHUT_WR)
            with contextlib.suppress(OSError):
                client.close()
            with contextlib.suppress(OSError):
                upstream.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._listener.close()
