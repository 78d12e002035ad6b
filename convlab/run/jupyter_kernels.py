"""The notebook kernel of a run: one shared by its notebooks and reset between them, and how a stop ends it.

The notebooks of one run share a kernel (`SharedKernel`): it starts once, and before each notebook its
variables and Keras's global state are cleared, so a notebook sees no variable of the one before it, but
TensorFlow and the other libraries are imported once per run instead of once per notebook.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile

KERNEL_NAME = "convlab"


class NotebookFailed(RuntimeError):
    """A notebook raised an error while executing."""


def stop_kernels(timeout: float = 5.0) -> int:
    """Terminate this process's children (notebook kernels, in sessions of their own, and what they started), then
    kill those still alive after `timeout` seconds; return how many there were (papermill may have ended them already)."""
    import psutil

    children = psutil.Process().children(recursive=True)
    for child in children:
        with contextlib.suppress(psutil.NoSuchProcess):
            child.terminate()
    _, alive = psutil.wait_procs(children, timeout=timeout)
    for child in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            child.kill()
    psutil.wait_procs(alive, timeout=timeout)
    return len(children)


def kernel_name() -> str | None:
    """The project's kernel when it runs this very interpreter, else None: the notebook's own kernel (`python3`).

    `python3` is ipykernel's native kernel, which runs the interpreter that starts it, so a run always
    executes its notebooks in the environment it was started from (the locked `.venv`, or a Studio image).
    """
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        spec = KernelSpecManager().get_kernel_spec(KERNEL_NAME)
    except NoSuchKernel:
        return None
    same = os.path.abspath(spec.argv[0]) == os.path.abspath(sys.executable)  # not resolved: venvs share a base binary
    return KERNEL_NAME if same else None


# Run in the shared kernel before every notebook but the first: it leaves the state of a fresh kernel that has
# imported libraries (no user variables, Keras's layer names and global state reset, cells numbered from 1).
# Figures need nothing: the inline backend closes each at the end of the cell that drew it.
RESET_CODE = """\
if "keras" in __import__("sys").modules:
    __import__("keras").backend.clear_session()
get_ipython().reset(new_session=True)
__import__("gc").collect()
"""


class SharedKernel:
    """One notebook kernel for a whole run, handed to papermill for each notebook.

    `prepare()` readies it for the next notebook: on first use it is started by papermill as usual
    (same kernel, environment and working directory); later, `RESET_CODE` clears what the previous
    notebook left. `close()` shuts it down.
    """

    def __init__(self, name: str | None):
        from jupyter_client.manager import AsyncKernelManager

        class Manager(AsyncKernelManager):
            def client(self, **kwargs):  # papermill opens a client per notebook; `prepare` closes the last one
                opened = super().client(**kwargs)
                self.opened.append(opened)
                return opened

        # Unix sockets in a private folder, not TCP ports: nothing listens on the network, and the kernel has no
        # reason to warn that its TCP traffic is unencrypted.
        self.sockets = tempfile.TemporaryDirectory(prefix="convlab-kernel-")
        self.manager = Manager(kernel_name=name or "python3", transport="ipc", ip=os.path.join(self.sockets.name, "kernel"))
        self.manager.opened = []
        self.resetter = None  # a client of our own that sends `RESET_CODE`

    def prepare(self) -> None:
        """Close the previous notebook's client and, if the kernel has run a notebook, reset its state."""
        while self.manager.opened:
            self.manager.opened.pop().stop_channels()
        if not self.manager.has_kernel:  # papermill starts it for the first notebook
            return
        if self.resetter is None:
            from jupyter_client.blocking import BlockingKernelClient

            self.resetter = BlockingKernelClient()
            self.resetter.load_connection_info(self.manager.get_connection_info())
            self.resetter.start_channels()
            self.resetter.wait_for_ready(timeout=60)
        reply = self.resetter.execute_interactive(RESET_CODE, store_history=False, timeout=120, output_hook=lambda message: None)
        content = reply["content"]
        if content["status"] != "ok":
            raise NotebookFailed(f"Clearing the kernel between notebooks failed: {content.get('ename')}: {content.get('evalue')}")

    def close(self) -> None:
        """Shut the kernel down (at once: the run is over)."""
        from jupyter_core.utils import run_sync

        while self.manager.opened:
            self.manager.opened.pop().stop_channels()
        if self.resetter is not None:
            self.resetter.stop_channels()
        if self.manager.has_kernel:
            run_sync(self.manager.shutdown_kernel)(now=True)
        self.sockets.cleanup()


@contextlib.contextmanager
def shared_kernel():
    """A `SharedKernel` on the project's kernel (see `kernel_name`), shut down when the block ends."""
    kernel = SharedKernel(kernel_name())
    try:
        yield kernel
    finally:
        kernel.close()


def quiet_dead_kernel_tasks() -> None:
    """After a stop, the cell that was running ends with "Kernel died" in a task nobody awaits any more; asyncio
    would print it as "Task exception was never retrieved" with a traceback. That one message is dropped."""
    import logging

    from nbclient.exceptions import DeadKernelError

    def keep(record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return not (record.getMessage().startswith("Task exception was never retrieved") and isinstance(error, DeadKernelError))

    logging.getLogger("asyncio").addFilter(keep)
