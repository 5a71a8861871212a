"""A local SMTP sink (aiosmtpd): collects what the bot sends, for the demo, the tests and benchmarks.

It can be told to answer some recipients with a temporary (4xx) or permanent (5xx) error, a given
number of times, to exercise retries.
"""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from email import policy
from email.parser import BytesHeaderParser
from pathlib import Path

from aiosmtpd.controller import Controller


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes


@dataclass
class SinkHandler:
    directory: Path | None = None
    discard: bool = False  # count messages without keeping them (benchmarks)
    # one JSON line per message accepted (envelope and Message-ID), written before the 250: what a
    # benchmark compares with the store after killing the sender
    journal: Path | None = None
    count: int = 0  # messages accepted
    messages: list[Received] = field(default_factory=list)
    # recipient → [(smtp status line, remaining times)]; remaining None means forever
    refusals: dict[str, list] = field(default_factory=dict)
    data_refusal: str | None = None  # an SMTP status line answering every DATA (a refused message)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def refuse(self, recipient: str, status: str, times: int | None = None) -> None:
        self.refusals.setdefault(recipient.lower(), []).append([status, times])

    def refuse_data(self, status: str) -> None:
        self.data_refusal = status

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        with self.lock:
            for rule in self.refusals.get(address.lower(), []):
                status, remaining = rule
                if remaining is None or remaining > 0:
                    if remaining is not None:
                        rule[1] = remaining - 1
                    return status
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.data_refusal:
            return self.data_refusal
        received = None if self.discard else Received(
            envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.original_content or envelope.content))
        with self.lock:
            self.count += 1
            count = self.count
            if received is not None:
                self.messages.append(received)
            if self.journal is not None:
                self._write_journal(envelope)
        if received is not None and self.directory is not None:
            self.directory.mkdir(parents=True, exist_ok=True)
            (self.directory / f"{count:06d}.eml").write_bytes(received.content)
        return "250 Message accepted"


    def _write_journal(self, envelope) -> None:
        content = bytes(envelope.original_content or envelope.content)
        head = content.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
        message_id = BytesHeaderParser(policy=policy.compat32).parsebytes(head)["Message-ID"]
        line = json.dumps({"mail_from": envelope.mail_from, "rcpt_tos": list(envelope.rcpt_tos),
                           "message_id": str(message_id or "")})
        with self.journal.open("a", encoding="utf-8") as journal:
            journal.write(line + "\n")


def read_journal(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def start_sink(host: str = "127.0.0.1", port: int = 0, directory: Path | None = None,
               discard: bool = False, journal: Path | None = None) -> tuple[Controller, SinkHandler]:
    """Start a sink on a free port (port=0); returns the controller (`.port`) and its handler."""
    handler = SinkHandler(directory=directory, discard=discard, journal=journal)
    if port == 0:
        port = free_port(host)
    controller = Controller(handler, hostname=host, port=port, data_size_limit=50 * 1024 * 1024,
                            decode_data=False, enable_SMTPUTF8=True)
    controller.start()
    return controller, handler


def free_port(host: str = "127.0.0.1") -> int:
    import socket

    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def main() -> None:
    """`python -m mailbot.devtools.sink [--port N] [--dir DIR]`: a sink in its own process (benchmarks)."""
    import argparse
    import signal

    parser = argparse.ArgumentParser(description="Local SMTP sink")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8026)
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--discard", action="store_true",
                        help="count messages without keeping them (a benchmark's sink)")
    parser.add_argument("--journal", type=Path, default=None,
                        help="append one JSON line per accepted message (envelope, Message-ID)")
    args = parser.parse_args()
    controller, handler = start_sink(args.host, args.port, args.dir, args.discard, args.journal)
    print(f"sink listening on {args.host}:{controller.port}", flush=True)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    stopped.wait()
    controller.stop()
    print(f"sink received {handler.count} messages", flush=True)


if __name__ == "__main__":
    main()
