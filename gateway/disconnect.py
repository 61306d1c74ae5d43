"""A request whose client went away stops: its work is cancelled, not finished for nobody.

The watch reads the ASGI messages that follow the request body; the server sends
``http.disconnect`` when the connection drops, and the watch then cancels the task that
serves the request. Backend calls other requests share go on for them (see
gateway/resilience/coalesce.py).
"""

from __future__ import annotations

import asyncio

from starlette.types import Message, Receive


class DisconnectWatch:
    """Wraps a request's ``receive``; once the body is read, watches for the disconnect."""

    def __init__(self, receive: Receive, method: str) -> None:
        self._receive = receive
        self._task = asyncio.current_task()
        self._watcher: asyncio.Task[None] | None = None
        #: whether the client went away while the request was served
        self.disconnected = False
        if method in ("GET", "HEAD"):  # no body to wait for: watch at once
            self._start()

    async def receive(self) -> Message:
        message = await self._receive()
        if message["type"] == "http.disconnect":
            self.disconnected = True
        elif not message.get("more_body", False):
            self._start()
        return message

    def _start(self) -> None:
        if self._watcher is None and self._task is not None:
            self._watcher = asyncio.get_running_loop().create_task(self._watch())

    async def _watch(self) -> None:
        while True:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                self.disconnected = True
                if self._task is not None:
                    self._task.cancel()
                return

    def stop(self) -> None:
        """The answer is ready: nothing more to watch."""
        if self._watcher is not None:
            self._watcher.cancel()
            self._watcher = None
