"""The processes of a larger install: exactly one active ``vafa scheduler``."""

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


class Process:
    """A ``vafa`` command in a child process, its output collected as it comes."""

    def __init__(self, command: str, database_url: str):
        env = {
            **os.environ,
            "VAFA_DATABASE_URL": database_url,
            "VAFA_SECRET_KEY": "processes-test",
            "PYTHONPATH": str(ROOT),
            "PYTHONUNBUFFERED": "1",
        }
        self.popen = subprocess.Popen(
            [sys.executable, "-c", "from app.cli import main; main()", command],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.output: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        for line in self.popen.stdout:
            self.output.append(line)

    def says(self, text: str, seconds: float = 20) -> bool:
        """Wait until ``text`` appears in the output (True) or time runs out."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if any(text in line for line in self.output):
                return True
            time.sleep(0.1)
        return False

    def stop(self, sig=signal.SIGKILL) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(sig)
        self.popen.wait(timeout=20)
        self.reader.join(timeout=5)
        self.popen.stdout.close()


def test_a_second_scheduler_waits_until_the_first_stops(app):
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    first = Process("scheduler", url)
    second = None
    try:
        assert first.says("Scheduler active")
        second = Process("scheduler", url)
        assert second.says("another scheduler is active; waiting")
        assert not second.says("Scheduler active", seconds=2)

        first.stop(signal.SIGTERM)
        assert second.says("Scheduler active", seconds=30)
    finally:
        for process in (first, second):
            if process is not None:
                process.stop()
