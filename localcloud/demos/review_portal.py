"""The local review portal: a web page where a person answers the local A2I engine's pending
human loops, standing in for the A2I worker portal.

`GET /` lists every pending loop with each item's text, how it reached review (unsure model,
user feedback, batch file) and a choice among the categories the loop's input names (plus
"None of these / cannot tell"). Submitting a loop's form (`POST /loops/<name>`) completes the
loop through the engine with the answers as `label-<index>` (what the stack's task UI submits),
which writes A2I's output object and publishes the completion event; the page then reloads
with the loop gone.

    portal = ReviewPortal(cloud.a2i, after_submit=cloud.settle).start()   # serves in a thread
    ...; portal.stop()

`python -m localcloud review-portal` deploys the feedback loop with its part 1 stack, trains
the first model, sends sample traffic so loops are pending, and serves the portal until Ctrl-C.
"""

from __future__ import annotations

import html
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote

from localcloud.demos.review import SKIP, answer_field

STYLE = """
body { font-family: sans-serif; max-width: 60em; margin: 2em auto; color: #222; }
.loop { border: 1px solid #ccc; border-radius: 6px; padding: 1em; margin-bottom: 1.5em; }
.item { margin: 0.8em 0; } .item p { margin: 0.2em 0; } .source { color: #777; font-size: 90%; }
.notice { background: #eef7ee; padding: 0.6em; border-radius: 4px; }
"""


class ReviewPortal:
    def __init__(
        self,
        a2i: Any,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        after_submit: Callable[[], None] | None = None,
    ) -> None:
        self.a2i = a2i
        self.after_submit = after_submit
        self.submitted: list[str] = []
        portal = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.split("?")[0] != "/":
                    self._send(404, "<p>Not found</p>")
                    return
                notice = ""
                if "done=" in self.path:
                    notice = unquote(self.path.split("done=", 1)[1])
                self._send(200, portal.page(notice))

            def do_POST(self) -> None:
                if not self.path.startswith("/loops/"):
                    self._send(404, "<p>Not found</p>")
                    return
                name = unquote(self.path.removeprefix("/loops/"))
                length = int(self.headers.get("Content-Length", 0))
                form = parse_qs(self.rfile.read(length).decode("utf-8"))
                try:
                    portal.submit(name, {key: values[-1] for key, values in form.items()})
                except Exception as error:  # shown to the reviewer, the loop stays pending
                    reason = f"Could not submit {name}: {error}"
                    self._send(400, f"<p>{html.escape(reason)}</p><a href='/'>Back</a>")
                    return
                self.send_response(303)
                self.send_header("Location", f"/?done={name}")
                self.end_headers()

            def _send(self, status: int, body: str) -> None:
                data = body.encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer((host, port), Handler)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}/"

    def start(self) -> ReviewPortal:
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def submit(self, name: str, form: dict[str, str]) -> str:
        loop = next((p for p in self.a2i.pending() if p.name == name), None)
        if loop is None:
            raise ValueError("this loop is no longer pending")
        categories = list(loop.input["categories"])
        answers: dict[str, str] = {}
        for item in loop.input["items"]:
            field = answer_field(int(item["index"]))
            value = form.get(field, "")
            if value != SKIP and value not in categories:
                raise ValueError(f"choose a category for item {int(item['index']) + 1}")
            answers[field] = value
        uri = str(self.a2i.complete(name, answers, worker_id="portal-reviewer"))
        self.submitted.append(name)
        if self.after_submit is not None:
            self.after_submit()
        return uri

    def page(self, notice: str = "") -> str:
        loops = self.a2i.pending()
        parts = [
            "<!doctype html><html><head><meta charset='utf-8'><title>Review</title>",
            f"<style>{STYLE}</style></head><body><h1>Pending reviews</h1>",
        ]
        if notice:
            parts.append(f"<p class='notice' id='notice'>Submitted {html.escape(notice)}</p>")
        if not loops:
            parts.append("<p id='empty'>Nothing to review.</p>")
        for loop in loops:
            document = loop.input
            parts.append(
                f"<form class='loop' method='post' action='/loops/{html.escape(loop.name)}' "
                f"data-loop='{html.escape(loop.name)}'><h2>{html.escape(loop.name)}</h2>"
            )
            for item in document["items"]:
                index = int(item["index"])
                field = answer_field(index)
                source = {"implicit": "the model was unsure", "explicit": "a user flagged it",
                          "batch": "batch feedback"}.get(item.get("source", ""), "")  # fmt: skip
                hint = ""
                if item.get("suggested"):
                    hint = f"; the user suggests {html.escape(item['suggested'])}"
                options = "".join(
                    f"<option value='{html.escape(c)}'>{html.escape(c)}</option>"
                    for c in document["categories"]
                )
                parts.append(
                    f"<div class='item'><p class='text'>{html.escape(item['text'])}</p>"
                    f"<p class='source'>{source}{hint}</p>"
                    f"<select name='{field}' required>"
                    "<option value='' disabled selected>Choose a category</option>"
                    f"{options}<option value='{SKIP}'>None of these / cannot tell</option>"
                    "</select></div>"
                )
            parts.append("<button type='submit'>Submit</button></form>")
        parts.append("</body></html>")
        return "".join(parts)
