"""A small Chrome DevTools Protocol client for end-to-end tests: headless Chromium, one page.

It speaks CDP (https://chromedevtools.github.io/devtools-protocol/) over aiohttp's websocket
client, so the browser tests need no Playwright or pyppeteer. Only what the tests use:
device emulation, navigation, evaluation, a click or a real tap that navigates, turning the
page's JavaScript off, screenshots (the viewport or the whole page), the document responses
the page saw (status, headers, redirects) and what it reported as errors (console, uncaught
exceptions, the browser's own log).

Chromium runs with a throw-away profile and ``--remote-debugging-port=0``; it writes the
port it picked to ``<profile>/DevToolsActivePort`` (line 1: port, line 2: the browser
target's websocket path). The background-networking flags keep it off the network: on a
machine without internet access it otherwise retries refused connections all the time.

Error tree::

    Exception
     └── CdpError          a command answered with an error, or the connection closed
          └── BrowserStartError   Chromium is missing, exited, or never wrote its port
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import aiohttp

from tests.support.processes import stop_process

CHROMIUM: Final = "/usr/bin/chromium"  # Debian's package `chromium`; `make test` installs it
CHROMIUM_FLAGS: Final = (
    "--headless",
    "--no-sandbox",  # tests may run as root (containers), where the sandbox refuses to start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-proxy-server",  # loopback only, whatever the environment says about proxies
    "--remote-debugging-port=0",
)
# CDP messages are JSON; a phone-sized PNG screenshot is a few MiB of base64.
MAX_MESSAGE: Final = 64 * 1024 * 1024
COMMAND_TIMEOUT: Final = 10.0
# Handshakes only: once upgraded, websocket reads have no timeout (aiohttp sets the
# connection's read timeout from ClientWSTimeout.ws_receive, None here); every wait in
# this module has its own bound instead.
_HTTP_TIMEOUT: Final = aiohttp.ClientTimeout(total=10, sock_connect=5, sock_read=10)
_WS_TIMEOUT: Final = aiohttp.ClientWSTimeout(ws_receive=None, ws_close=5)
PNG_SIGNATURE: Final = b"\x89PNG\r\n\x1a\n"

JSONObject = dict[str, Any]


class CdpError(Exception):
    """A CDP command failed, or the connection to the browser closed."""


class BrowserStartError(CdpError):
    """Chromium could not be started or did not open its DevTools port."""


@dataclass(frozen=True, slots=True, kw_only=True)
class DocumentResponse:
    """One HTTP response for a top-level document, redirects included."""

    url: str
    status: int
    headers: dict[str, str]  # names lower-cased

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


class CdpConnection:
    """One websocket to one CDP target: commands matched to answers by id, events recorded
    and handed to whoever waits for them."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, *, name: str) -> None:
        self._ws = ws
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[JSONObject]] = {}
        self._waiters: list[tuple[str, asyncio.Future[JSONObject]]] = []
        self.events: list[JSONObject] = []
        self._reader = asyncio.create_task(self._read(), name=f"cdp-reader:{name}")

    @classmethod
    async def open(cls, session: aiohttp.ClientSession, url: str, *, name: str) -> CdpConnection:
        ws = await session.ws_connect(url, max_msg_size=MAX_MESSAGE, timeout=_WS_TIMEOUT)
        return cls(ws, name=name)

    async def send(
        self, method: str, params: JSONObject | None = None, *, within: float = COMMAND_TIMEOUT
    ) -> JSONObject:
        """Run one command; its ``result`` object, or CdpError with the browser's message."""
        if self._reader.done():
            raise CdpError(f"{method}: the connection is closed")
        ident = next(self._ids)
        answer: asyncio.Future[JSONObject] = asyncio.get_running_loop().create_future()
        self._pending[ident] = answer
        try:
            await self._ws.send_str(
                json.dumps({"id": ident, "method": method, "params": params or {}})
            )
            return await asyncio.wait_for(answer, within)
        except TimeoutError:
            raise CdpError(f"{method}: no answer within {within} s") from None
        finally:
            self._pending.pop(ident, None)

    def expect(self, method: str) -> asyncio.Future[JSONObject]:
        """The next event named ``method``, as a future. Call it *before* the action that
        causes the event, so that a fast event cannot be missed."""
        waiter: asyncio.Future[JSONObject] = asyncio.get_running_loop().create_future()
        self._waiters.append((method, waiter))
        return waiter

    async def close(self) -> None:
        await self._ws.close()
        await asyncio.wait({self._reader}, timeout=5)
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader

    async def _read(self) -> None:
        try:
            async for message in self._ws:
                if message.type is aiohttp.WSMsgType.TEXT:
                    self._dispatch(json.loads(message.data))
        finally:
            for answer in self._pending.values():
                if not answer.done():
                    answer.set_exception(CdpError("connection to the browser closed"))
            for _, waiter in self._waiters:
                if not waiter.done():
                    waiter.set_exception(CdpError("connection to the browser closed"))
            self._waiters.clear()

    def _dispatch(self, message: JSONObject) -> None:
        if "id" in message:
            answer = self._pending.get(message["id"])
            if answer is None or answer.done():
                return
            if "error" in message:
                error = message["error"]
                answer.set_exception(CdpError(f"{error.get('message')} ({error.get('code')})"))
            else:
                answer.set_result(message.get("result", {}))
            return
        self.events.append(message)
        method, params = message.get("method"), message.get("params", {})
        keep: list[tuple[str, asyncio.Future[JSONObject]]] = []
        for wanted, waiter in self._waiters:
            if wanted == method and not waiter.done():
                waiter.set_result(params)
            elif not waiter.done():
                keep.append((wanted, waiter))
        self._waiters = keep


def _discard(future: asyncio.Future[JSONObject]) -> None:
    """Drop a waiter we no longer need without leaving an unretrieved exception behind."""
    if future.done() and not future.cancelled():
        future.exception()
    future.cancel()


class Page:
    """One page target: navigate, evaluate, click, screenshot."""

    def __init__(self, connection: CdpConnection) -> None:
        self.cdp = connection

    async def enable(self) -> None:
        await self.cdp.send("Page.enable")
        await self.cdp.send("Network.enable")  # for the document responses and their headers
        await self.cdp.send("Runtime.enable")  # console calls and uncaught exceptions
        await self.cdp.send("Log.enable")  # the browser's own errors: blocked or failed loads

    async def set_javascript(self, *, enabled: bool) -> None:
        """Turn the page's own scripts off (or back on), as a customer's browser may have
        them. DevTools' ``evaluate`` keeps working either way."""
        await self.cdp.send("Emulation.setScriptExecutionDisabled", {"value": not enabled})

    async def emulate_device(
        self, *, width: int, height: int, scale: float, mobile: bool = True
    ) -> None:
        await self.cdp.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": scale, "mobile": mobile},
        )
        if mobile:
            await self.cdp.send("Emulation.setTouchEmulationEnabled", {"enabled": True})

    async def navigate(self, url: str, *, within: float = COMMAND_TIMEOUT) -> None:
        """Go to ``url`` (following redirects) and wait for the load event."""
        loaded = self.cdp.expect("Page.loadEventFired")
        try:
            result = await self.cdp.send("Page.navigate", {"url": url}, within=within)
            if result.get("errorText"):
                raise CdpError(f"navigating to {url}: {result['errorText']}")
            await asyncio.wait_for(loaded, within)
        except TimeoutError:
            raise CdpError(f"{url} did not finish loading within {within} s") from None
        finally:
            _discard(loaded)

    async def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression (promises awaited), or CdpError on a throw."""
        result = await self.cdp.send(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
        )
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            raise CdpError(f"{expression!r} threw: {text}")
        return result["result"].get("value")

    async def click_and_wait_for_load(
        self, selector: str, *, within: float = COMMAND_TIMEOUT
    ) -> None:
        """Click the element ``selector`` finds (as a tap would) and wait for the next page."""
        loaded = self.cdp.expect("Page.loadEventFired")
        try:
            clicked = await self.evaluate(
                f"(() => {{ const el = document.querySelector({json.dumps(selector)});"
                " if (!el) return false; el.click(); return true; })()"
            )
            if not clicked:
                raise CdpError(f"nothing matches {selector!r} on the page")
            await asyncio.wait_for(loaded, within)
        except TimeoutError:
            raise CdpError(f"clicking {selector!r} loaded no page within {within} s") from None
        finally:
            _discard(loaded)

    async def tap_and_wait_for_load(
        self, selector: str, *, within: float = COMMAND_TIMEOUT
    ) -> None:
        """Tap the middle of the element ``selector`` finds with a finger, as a phone user
        would (touch events from the browser's input pipeline, no JavaScript involved: it
        works with scripts off), and wait for the page it leads to. It is scrolled into view
        first; what is on top at that point gets the tap, as on a real screen."""
        x, y = await self._centre_of(selector)
        loaded = self.cdp.expect("Page.loadEventFired")
        try:
            point = {"x": x, "y": y, "radiusX": 4, "radiusY": 4, "force": 1}
            await self.cdp.send(
                "Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [point]}
            )
            await self.cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
            await asyncio.wait_for(loaded, within)
        except TimeoutError:
            raise CdpError(f"tapping {selector!r} loaded no page within {within} s") from None
        finally:
            _discard(loaded)

    async def _centre_of(self, selector: str) -> tuple[float, float]:
        """Viewport coordinates of the middle of ``selector``'s first box, via the DOM
        domain (no script runs in the page)."""
        root = await self.cdp.send("DOM.getDocument", {"depth": 0})
        found = await self.cdp.send(
            "DOM.querySelector", {"nodeId": root["root"]["nodeId"], "selector": selector}
        )
        if not found.get("nodeId"):
            raise CdpError(f"nothing matches {selector!r} on the page")
        await self.cdp.send("DOM.scrollIntoViewIfNeeded", {"nodeId": found["nodeId"]})
        quads = (await self.cdp.send("DOM.getContentQuads", {"nodeId": found["nodeId"]}))["quads"]
        if not quads:
            raise CdpError(f"{selector!r} has no box on the screen")
        xs, ys = quads[0][0::2], quads[0][1::2]
        return sum(xs) / 4, sum(ys) / 4

    async def screenshot_png(self, *, full_page: bool = False, scale: float = 1.0) -> bytes:
        """What the screen shows, as PNG in device pixels; with ``full_page``, the whole
        document, as tall as it is. ``scale`` shrinks the picture (0.5 of a 3x phone: 1.5
        pixels per CSS pixel, still sharp enough to judge, and a fraction of the bytes)."""
        params: JSONObject = {"format": "png"}
        if full_page or scale != 1.0:
            metrics = await self.cdp.send("Page.getLayoutMetrics")
            if full_page:
                size = metrics["cssContentSize"]
                box = {"x": 0, "y": 0, "width": size["width"], "height": size["height"]}
                params["captureBeyondViewport"] = True
            else:
                seen = metrics["cssVisualViewport"]
                box = {
                    "x": seen["pageX"], "y": seen["pageY"],
                    "width": seen["clientWidth"], "height": seen["clientHeight"],
                }  # fmt: skip
            params["clip"] = {**box, "scale": scale}
        result = await self.cdp.send("Page.captureScreenshot", params)
        return base64.b64decode(result["data"])

    def console_errors(self) -> list[str]:
        """Every error the page reported so far, in order: ``console.error`` and failed
        ``console.assert`` calls, uncaught exceptions, and the browser's own error log
        (a resource that failed to load, a blocked request, a security violation)."""
        out: list[str] = []
        for event in self.cdp.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                args = params.get("args", [])
                out.append(" ".join(str(a.get("value", a.get("description", ""))) for a in args))
            elif method == "Runtime.exceptionThrown":
                details = params.get("exceptionDetails", {})
                thrown = details.get("exception", {}).get("description") or details.get("text")
                out.append(f"uncaught: {thrown}")
            elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
                entry = params["entry"]
                out.append(f"{entry.get('source')}: {entry.get('text')} {entry.get('url', '')}")
        return out

    def document_responses(self) -> list[DocumentResponse]:
        """Every top-level document response so far, in order; a redirect shows up as the
        ``redirectResponse`` of the request that follows it."""
        out: list[DocumentResponse] = []
        for event in self.cdp.events:
            method, params = event.get("method"), event.get("params", {})
            if params.get("type") != "Document":
                continue
            if method == "Network.requestWillBeSent" and "redirectResponse" in params:
                out.append(_response(params["redirectResponse"]))
            elif method == "Network.responseReceived":
                out.append(_response(params["response"]))
        return out


def _response(raw: JSONObject) -> DocumentResponse:
    headers = {str(k).lower(): str(v) for k, v in raw.get("headers", {}).items()}
    return DocumentResponse(url=raw["url"], status=int(raw["status"]), headers=headers)


class Browser:
    """A running headless Chromium and the DevTools connections to it."""

    def __init__(
        self,
        *,
        process: asyncio.subprocess.Process,
        port: int,
        session: aiohttp.ClientSession,
        connection: CdpConnection,
    ) -> None:
        self.process = process
        self.port = port
        self._session = session
        self._browser = connection
        self._pages: list[CdpConnection] = []

    async def new_page(self) -> Page:
        """A fresh tab on about:blank, with the Page and Network domains enabled."""
        target = await self._browser.send("Target.createTarget", {"url": "about:blank"})
        url = f"ws://127.0.0.1:{self.port}/devtools/page/{target['targetId']}"
        connection = await CdpConnection.open(self._session, url, name=target["targetId"])
        self._pages.append(connection)
        page = Page(connection)
        await page.enable()
        return page

    async def close(self) -> None:
        """Ask Chromium to quit, then close our side of every connection."""
        with contextlib.suppress(CdpError):
            await self._browser.send("Browser.close", within=5)
        for connection in [*self._pages, self._browser]:
            await connection.close()


async def _devtools_address(
    profile: Path, process: asyncio.subprocess.Process, *, within: float
) -> tuple[int, str]:
    """Port and browser websocket path from DevToolsActivePort, once Chromium wrote both."""
    marker = profile / "DevToolsActivePort"
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if process.returncode is not None:
            raise BrowserStartError(f"chromium exited with code {process.returncode} at start")
        with contextlib.suppress(FileNotFoundError):
            lines = marker.read_text().splitlines()
            if len(lines) >= 2 and lines[0].isdigit():
                return int(lines[0]), lines[1]
        await asyncio.sleep(0.05)
    raise BrowserStartError(f"chromium wrote no {marker} within {within} s")


@asynccontextmanager
async def launch_chromium(
    workdir: Path, *, executable: str = CHROMIUM, start_timeout: float = 20.0
) -> AsyncIterator[Browser]:
    """Headless Chromium with a fresh profile under ``workdir`` (its log in
    ``workdir/chromium.log``). Quits it, and kills what is left of it, on the way out."""
    if not os.access(executable, os.X_OK):
        raise BrowserStartError(f"{executable} is not installed")
    profile = workdir / "chromium-profile"
    profile.mkdir(parents=True)
    with (workdir / "chromium.log").open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            executable,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,  # its own group: the teardown can reach its helpers
        )
    session: aiohttp.ClientSession | None = None
    browser: Browser | None = None
    try:
        port, path = await _devtools_address(profile, process, within=start_timeout)
        session = aiohttp.ClientSession(timeout=_HTTP_TIMEOUT)
        connection = await CdpConnection.open(
            session, f"ws://127.0.0.1:{port}{path}", name="browser"
        )
        browser = Browser(process=process, port=port, session=session, connection=connection)
        yield browser
    finally:
        if browser is not None:
            await browser.close()
        if session is not None:
            await session.close()
        await stop_process(process, grace=5, group=True)
