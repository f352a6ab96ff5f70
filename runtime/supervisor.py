"""Lambda Managed Instances: N invocations at once from N processes, as AWS's Python runtime does.

With AWS_LAMBDA_MAX_CONCURRENCY=N (N > 1) the process Lambda started becomes a supervisor. It forks
N slot processes before anything of the handler is imported (so forking is cheap and nothing of
the handler is shared), and each slot loads the handler and runs its own invocation loop on its own
Runtime API connection, exactly as a single process does. Module globals, the event loop and
`_X_AMZN_TRACE_ID` are therefore per process, one invocation at a time in each
(https://docs.aws.amazon.com/lambda/latest/dg/lambda-managed-instances-python-runtime.html).

Each slot tells the supervisor how it is doing through a pipe of its own, one line per record:

    ready                 the handler is loaded; written once, before the first poll
    init-error <json>     loading failed; the supervisor posts <json> to /runtime/init/error
    fatal <message>       a Runtime API error; the whole runtime exits 1

The supervisor reads a slot's pipe when the slot exits (it never needs to block on it):

| the slot exited ...                          | the supervisor ...                               |
|----------------------------------------------|--------------------------------------------------|
| after `init-error`                           | reports it once, stops every slot, exits 1       |
| after `fatal`                                | stops every slot, exits 1                        |
| after `ready`, saying nothing else           | starts a new slot in its place (a crash, os._exit) |
| before `ready`, saying nothing               | treats it as an init failure (Runtime.ExitError) |
| after SIGTERM/SIGINT reached the supervisor  | forwards the signal, reaps every slot, exits 0   |

Stopping gives the slots STOP_GRACE_SECONDS after SIGTERM, then SIGKILLs them. A slot that loses
its supervisor is killed by the kernel (PR_SET_PDEATHSIG on Linux), so no slot outlives it.
"""

from __future__ import annotations

import json
import os
import signal
import sys

from runtime.api import ErrorPayload

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from runtime.log import RuntimeLog

READY = b"ready"
INIT_ERROR = b"init-error"
FATAL = b"fatal"
MAX_RECORD_BYTES = 16 * 1024  # far below a pipe's 64 KiB, so a slot never blocks writing one
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
STOP_GRACE_SECONDS = 2  # then SIGKILL: a slot that ignores SIGTERM must not keep the runtime alive
PR_SET_PDEATHSIG = 1  # linux/prctl.h


class SlotChannel:
    """A slot's end of its pipe to the supervisor."""

    def __init__(self, index: int, write_fd: int) -> None:
        self.index = index
        self._fd = write_fd

    def ready(self) -> None:
        self._send(READY)

    def init_error(self, error: ErrorPayload) -> None:
        self._send(INIT_ERROR + b" " + error.fitted(MAX_RECORD_BYTES // 2).to_json())

    def fatal(self, message: str) -> None:
        self._send(FATAL + b" " + message.encode("utf-8", "replace")[: MAX_RECORD_BYTES // 2])

    def _send(self, record: bytes) -> None:
        try:  # noqa: SIM105 - contextlib costs start-up time
            os.write(self._fd, record.replace(b"\n", b" ") + b"\n")
        except OSError:
            pass  # the supervisor is gone; nothing left to tell


class Slot:
    """The supervisor's view of one slot process."""

    def __init__(self, index: int, pid: int, read_fd: int) -> None:
        self.index = index
        self.pid = pid
        self.read_fd = read_fd

    def records(self) -> dict[bytes, bytes]:
        """What the slot wrote before it exited: {kind: rest of the line}. Closes the pipe."""
        data = b""
        try:
            os.set_blocking(self.read_fd, False)  # a grandchild may still hold the write end
            while chunk := os.read(self.read_fd, 65536):
                data += chunk
        except OSError:  # BlockingIOError: nothing more to read
            pass
        finally:
            os.close(self.read_fd)
        found: dict[bytes, bytes] = {}
        for line in data.splitlines():
            kind, _, rest = line.partition(b" ")
            found.setdefault(kind, rest)
        return found


class Supervisor:
    """Starts `count` slots, replaces the ones that die, and decides when the runtime ends."""

    def __init__(self, count: int, log: RuntimeLog, report_init_error: Callable[[ErrorPayload], None]) -> None:
        self.count = count
        self.log = log
        self.report_init_error = report_init_error
        self.slots: dict[int, Slot] = {}
        self.stopping = False
        self.pid = os.getpid()
        self._prctl = _load_prctl()

    def run(self) -> int:
        """The runtime's exit status. Raises `BecameSlot` in each slot process it forks."""
        for signum in STOP_SIGNALS:
            signal.signal(signum, self._on_stop_signal)
        signal.signal(signal.SIGALRM, self._on_grace_expired)
        for index in range(self.count):
            self._start(index)
        return self._watch()

    def _start(self, index: int) -> None:
        read_fd, write_fd = os.pipe()
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            raise BecameSlot(self._become_slot(index, read_fd, write_fd))
        os.close(write_fd)
        self.slots[pid] = Slot(index, pid, read_fd)

    def _become_slot(self, index: int, read_fd: int, write_fd: int) -> SlotChannel:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGALRM, signal.SIG_DFL)
        os.close(read_fd)
        for slot in self.slots.values():
            os.close(slot.read_fd)
        self.slots.clear()
        if self._prctl is not None:
            self._prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # no orphaned slot if the supervisor is killed
        if os.getppid() != self.pid:
            os._exit(1)  # the supervisor died before prctl took effect
        return SlotChannel(index, write_fd)

    def _watch(self) -> int:
        while self.slots:
            pid, status = os.wait()
            slot = self.slots.pop(pid, None)
            if slot is not None and (outcome := self._after_exit(slot, status)) is not None:
                return outcome
        return 0 if self.stopping else 1

    def _after_exit(self, slot: Slot, status: int) -> int | None:
        records = slot.records()
        if self.stopping:
            return None
        if INIT_ERROR in records:
            return self._fail_init(_payload(records[INIT_ERROR]))
        if FATAL in records:
            self._stop_all()
            return 1
        if READY not in records:
            message = f"a runtime process exited during init: it {_describe(status)}"
            return self._fail_init(ErrorPayload("Runtime.ExitError", message))
        self.log.warning(f"runtime process {slot.index} (pid {slot.pid}) {_describe(status)}; starting another")
        self._start(slot.index)
        return None

    def _fail_init(self, error: ErrorPayload) -> int:
        self._stop_all()
        self.report_init_error(error)
        return 1

    def _stop_all(self) -> None:
        """SIGTERM every slot and reap them all; SIGKILL whatever is left after the grace period."""
        self._on_stop_signal(signal.SIGTERM, None)
        while self.slots:
            pid, _ = os.wait()
            slot = self.slots.pop(pid, None)
            if slot is not None:
                slot.records()
        signal.alarm(0)

    def _on_stop_signal(self, signum: int, frame: object) -> None:
        if os.getpid() != self.pid:
            os._exit(0)  # a slot caught between fork() and resetting its handlers: just stop
        self.stopping = True
        self._signal_slots(signum)
        signal.alarm(STOP_GRACE_SECONDS)

    def _on_grace_expired(self, signum: int, frame: object) -> None:
        if os.getpid() == self.pid:
            self._signal_slots(signal.SIGKILL)

    def _signal_slots(self, signum: int) -> None:
        for pid in list(self.slots):
            try:  # noqa: SIM105 - contextlib costs start-up time
                os.kill(pid, signum)
            except ProcessLookupError:
                pass


class BecameSlot(Exception):
    """Raised in each freshly forked slot process, to leave the supervisor's code for good."""

    def __init__(self, channel: SlotChannel) -> None:
        super().__init__(f"slot {channel.index}")
        self.channel = channel


def supervise(count: int, log: RuntimeLog, report_init_error: Callable[[ErrorPayload], None]) -> SlotChannel | int:
    """Run the supervisor: its exit status in the supervisor; in each slot process, the slot's channel."""
    try:
        return Supervisor(count, log, report_init_error).run()
    except BecameSlot as became:
        return became.channel


def _payload(document: bytes) -> ErrorPayload:
    try:
        value = json.loads(document)
        return ErrorPayload(
            str(value.get("errorType", "Runtime.Unknown")),
            str(value.get("errorMessage", "")),
            tuple(str(line) for line in value.get("stackTrace") or ()),
        )
    except (ValueError, AttributeError, TypeError):
        return ErrorPayload("Runtime.Unknown", document.decode("utf-8", "replace"))


def _describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"was killed by signal {os.WTERMSIG(status)}"
    return f"exited with status {os.waitstatus_to_exitcode(status)}"


def _load_prctl() -> Callable[..., int] | None:
    """prctl(2) through ctypes, on Linux only; None where it does not exist."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError, ImportError):
        return None
