"""A local SMTP server for `make run`: accepts every mail and appends it to an mbox file, so
the e-mail customers would receive can be read without a real mail server.

    python -m scripts.mail_sink --host 127.0.0.1 --port 8025 --mbox var/mail.mbox
"""

import argparse
import asyncio
import mailbox
import signal
from email import message_from_bytes
from email.policy import compat32
from pathlib import Path

from aiosmtpd.controller import Controller


class MboxHandler:
    def __init__(self, path: Path) -> None:
        self.path = path

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 (aiosmtpd's name)
        box = mailbox.mbox(self.path)
        box.lock()
        try:
            box.add(message_from_bytes(envelope.content, policy=compat32))
            box.flush()
        finally:
            box.unlock()
            box.close()
        print(f"mail for {', '.join(envelope.rcpt_tos)} stored in {self.path.name}", flush=True)
        return "250 Message accepted"


async def serve(host: str, port: int, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    controller = Controller(MboxHandler(path), hostname=host, port=port)
    controller.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        controller.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8025)
    parser.add_argument("--mbox", type=Path, required=True)
    args = parser.parse_args()
    asyncio.run(serve(args.host, args.port, args.mbox))


if __name__ == "__main__":
    main()
