"""The operator's dashboard: a WSGI app of server-rendered pages over the job queue.

Theory of operation
-------------------
Every request goes through :meth:`Dashboard.__call__`: the static stylesheet
and the login form are open; everything else needs a logged-in session
cookie or the bearer token (see ``_auth``). Every POST made with the cookie
must carry the session's CSRF token, or it is refused with 403 before it
changes anything.

The pages read through the queue's public interface (and the status store
and live client when given); the only writes are the operator's buttons,
which call :func:`~qbwc_spyne.jobs.retry_job`, :func:`~qbwc_spyne.jobs.cancel_job` and
:func:`~qbwc_spyne.jobs.resolve_unknown`, the same compare-and-set transitions
the command line uses, one job at a time or for the jobs ticked on a list.
A refused transition (the job moved on meanwhile) is shown, never half done.

Templates are Jinja2 with autoescaping on for every template, so a
customer's name, an error message or a qbXML document is always text. The
Content-Security-Policy forbids scripts outright: the pages have none. So
the Live page's health check, which may wait for the Web Connector's next
update, streams its page: the form and a "waiting" line at once, how long
it has waited every second, the answer when it comes.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, fields, is_dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from werkzeug.exceptions import BadRequest, Forbidden, HTTPException, NotFound
from werkzeug.routing import Map, MapAdapter, Rule
from werkzeug.wrappers import Request, Response

from .._extras import needs_extra
from ..codes import Explanation, explain
from ..exceptions import (
    ConfigurationError,
    JobError,
    LiveTimeout,
    QBWCError,
    QuickBooksOffline,
    StorageError,
)
from ..queue._live import LiveClient
from ..queue._operator import cancel_job, resolve_unknown, retry_job
from ..queue._ports import Job, JobState, OperatorQueue
from ..status import ConnectionStatus, StatusStore
from ._auth import LoginGuard, Signer, Visit, same_secret

if TYPE_CHECKING:
    from markupsafe import Markup

__all__ = ["Dashboard", "make_dashboard_app"]

logger = logging.getLogger("qbwc_spyne")

#: The templates and the stylesheet sit beside this module (package data, no subpackage).
HERE = Path(__file__).resolve().parent
COOKIE = "qbwc_dashboard"
#: Characters of a qbXML document laid out and shown on a job's page; the rest is downloadable.
SHOWN_CHARS = 6000
#: The longest user name or kind a filter may hold (longer is not a filter, it is noise).
FILTER_MAX = 200
#: The largest offset passed to a store: SQL integers are 64-bit.
MAX_OFFSET = 2**62
_PAGE = re.compile(r"[0-9]{1,60}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
#: C0, DEL and C1 controls: browsers drop some of them from a URL (so "/\t/x" is "//x").
_ANY_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
#: The largest id a SQL store holds (a signed 64-bit integer): a larger one is a 404.
MAX_ID = 2**63 - 1
_ID = f"int(max={MAX_ID})"
#: Codes that name a QuickBooks status, hresult or Web Connector error (explainable).
_EXPLAINABLE = re.compile(r"-?[0-9]+|0[xX][0-9a-fA-F]+|[qQ][bB][wW][cC][0-9]+")

#: Where the operator's buttons may take a job from.
RETRIABLE = frozenset({JobState.FAILED, JobState.UNKNOWN, JobState.BLOCKED, JobState.CANCELLED})
CANCELLABLE = frozenset(
    {JobState.PENDING, JobState.RECONCILE, JobState.BLOCKED, JobState.UNKNOWN, JobState.FAILED}
)

#: Content-Security-Policy: no scripts, nothing from elsewhere, not in a frame.
POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self';"
    " frame-ancestors 'none'; base-uri 'none'"
)

#: Messages a redirect may ask for by name (never text from the query string).
NOTES = {
    "retried": "The job will be sent at the next update.",
    "cancelled": "The job was cancelled.",
    "happened": "Marked as done: it happened in QuickBooks.",
    "not-happened": "Marked to send again: it did not happen in QuickBooks.",
}

#: What each bulk button does, in the words of its result page.
BULK = {"retry": "retried", "cancel": "cancelled"}


@dataclass(frozen=True, kw_only=True)
class Filters:
    """The jobs list's filters, checked: user, state, kind, text searched for, page (from 1)."""

    user: str
    state: JobState | None
    kind: str
    search: str
    page: int

    def query(self, **change: Any) -> dict[str, Any]:
        """The query string's values, with some changed, leaving out the empty ones."""
        values = {
            "user": self.user,
            "state": self.state.value if self.state else "",
            "kind": self.kind,
            "q": self.search,
            "page": self.page,
        }
        values.update(change)
        return {k: v for k, v in values.items() if v not in ("", None, 1)}


def _filters(args: Mapping[str, str]) -> Filters:
    """Read the jobs list's filters; raise BadRequest saying what is wrong with one."""
    text: dict[str, str] = {}
    for name in ("user", "kind", "q"):
        value = args.get(name, "")
        if len(value) > FILTER_MAX or _CONTROL.search(value):
            raise BadRequest(f"{name} must be text of at most {FILTER_MAX} characters")
        text[name] = value
    state_text = args.get("state", "")
    try:
        state = JobState(state_text) if state_text else None
    except ValueError:
        names = ", ".join(s.value for s in JobState)
        raise BadRequest(f"state must be one of {names}") from None
    page_text = args.get("page", "1")
    # A page number is digits; a huge one is an empty page, not an error.
    if not _PAGE.fullmatch(page_text) or int(page_text) < 1:
        raise BadRequest("page must be a whole number, 1 or more")
    # An order number copied from an e-mail or a spreadsheet comes with white space around it.
    search = text["q"].strip()
    return Filters(
        user=text["user"], state=state, kind=text["kind"], search=search, page=int(page_text)
    )


def _found(job: Job, search: str) -> bool:
    """Whether ``search`` is in the job's key or payload, as the SQL queues' ``jobs_page`` says.

    The payload is looked at as its JSON text, the search text written as
    JSON writes it; letters in either case.
    """
    needle = search.lower()
    escaped = json.dumps(needle)[1:-1]
    return needle in (job.key or "").lower() or escaped in json.dumps(job.payload).lower()


def _when(value: float | None) -> str:
    """A time as an operator reads it, in UTC, to the second."""
    if not value:
        return "-"
    return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


#: A word with a hyphen, a dash, "?" or "…" in it: Chromium breaks a word after each
#: ("SO-|1001", "2026-|12-06").
_BREAKABLE = re.compile(r"[^\s]*[-?\u2010-\u2014\u2026][^\s]*")


def _words(text: Any) -> Markup:
    """Text for a table cell, escaped, each word with a hyphen or a dash kept whole.

    The stylesheet breaks lines between words only, but browsers also break
    after a hyphen or a dash (see :data:`_BREAKABLE`): an order number
    "SO-1001" or a date would come out in pieces in a narrow column. White
    space stays the place to break.
    """
    from markupsafe import Markup, escape  # Jinja2's: the dashboard extra's

    value = str(text)
    pieces, last = [], 0
    for word in _BREAKABLE.finditer(value):
        pieces += [escape(value[last : word.start()])]
        pieces += [Markup('<span class="nowrap">{}</span>').format(word.group())]
        last = word.end()
    return Markup("").join([*pieces, escape(value[last:])])


def _shorten(text: str | None, limit: int = SHOWN_CHARS) -> tuple[str, bool]:
    """The first ``limit`` characters, and whether any were cut."""
    if text is None:
        return "", False
    return (text[:limit], True) if len(text) > limit else (text, False)


#: One piece of a qbXML document: a comment, a CDATA section, a processing
#: instruction, a tag (a quoted attribute value may hold ">"), or text. Each
#: may be cut short by the end of a truncated document.
_PIECE = re.compile(
    r"<!--.*?(?:-->|\Z)|<!\[CDATA\[.*?(?:\]\]>|\Z)|<\?.*?(?:\?>|\Z)"
    r"|<(?:[^>\"']|\"[^\"]*\"|'[^']*')*(?:>|\Z)|[^<]+|<",
    re.DOTALL,
)


def _is_open(piece: str) -> bool:
    return piece[:1] == "<" and piece[1:2] not in ("/", "?", "!", "") and not piece.endswith("/>")


def _is_text(piece: str) -> bool:
    return not piece.startswith("<") or piece == "<"


def layout_xml(document: str, *, indent: str = "  ") -> str:
    """A qbXML document laid out one element a line, indented by depth, to be read.

    Strategy: a tokenizer, not a parser. Nothing is resolved or expanded
    (an entity reference stays the text it is), a truncated or malformed
    document is laid out as far as it goes, and only white space changes
    (around tags, and around text between tags): the characters that are
    not white space come out the same, in the same order. An element
    holding only text stays on one line, its text untouched.

    Args:
        document: the document's text (the caller caps its size).
        indent: what each level of depth adds.

    Returns:
        The laid-out text, lines joined by newlines.
    """
    pieces = _PIECE.findall(document)
    lines: list[str] = []
    depth, at = 0, 0
    while at < len(pieces):
        piece = pieces[at]
        ahead = pieces[at + 1 : at + 3]
        if _is_text(piece):
            if piece.strip():
                lines.append(indent * depth + piece.strip())
        elif _is_open(piece):
            if ahead[:1] and ahead[0].startswith("</"):
                lines.append(indent * depth + piece + ahead[0])  # <a></a>
                at += 1
            elif len(ahead) == 2 and _is_text(ahead[0]) and ahead[1].startswith("</"):
                lines.append(indent * depth + "".join([piece, *ahead]))  # <a>text</a>
                at += 2
            else:
                lines.append(indent * depth + piece)
                depth += 1
        elif piece.startswith("</"):
            depth = max(0, depth - 1)
            lines.append(indent * depth + piece)
        else:
            lines.append(indent * depth + piece)  # <a/>, a comment, <?...?>, CDATA
        at += 1
    return "\n".join(lines)


def _shown_xml(document: str | None) -> str:
    """A document as a job's page shows it: its head laid out, and a line "…" if cut.

    Only the first :data:`SHOWN_CHARS` characters are read, so a 256 KiB
    answer costs what a short one does.
    """
    if document is None:
        return ""
    head, cut = _shorten(document)
    laid, more = _shorten(layout_xml(head))
    return laid + "\n…" if cut or more else laid


def _missing_request(job: Job) -> str:
    """Why a job's page shows no request: in the job's own state's words."""
    if job.purged:
        return "Purged: what the job carried is gone."
    if job.state is JobState.DONE:
        return "Not kept (a done job's request is cleared unless the queue keeps it)."
    if job.state is JobState.IN_FLIGHT:
        return "Being sent: the session that holds the job is building its request."
    if job.attempts == 0:
        return "Not sent yet: the request is built when a session sends the job."
    if job.state in (JobState.PENDING, JobState.BLOCKED):
        return (
            "Not sent since it was queued again: the request is built anew"
            " when a session sends the job."
        )
    return "Not kept: the request was cleared when the job left its session."


def _pretty(value: Any) -> str:
    """JSON as text to show (escaped like any text), not as a script literal."""
    return json.dumps(value, ensure_ascii=False, indent=1, sort_keys=True)


def _rows(value: Any) -> list[tuple[str, Any]]:
    """A dataclass's fields as (name, value) rows; anything else as one row."""
    if is_dataclass(value) and not isinstance(value, type):
        return [(f.name, getattr(value, f.name)) for f in fields(value)]
    return [("answer", value)]


class Dashboard:
    """The dashboard as a WSGI app; see :func:`make_dashboard_app`."""

    def __init__(
        self,
        queue: OperatorQueue,
        *,
        status: StatusStore | None = None,
        live: LiveClient | None = None,
        password: str | None,
        token: str | None,
        secret_key: bytes,
        page_size: int,
        title: str,
        stale_after: float,
        live_timeout: float,
        clock: Callable[[], float],
    ) -> None:
        from jinja2 import Environment, FileSystemLoader, select_autoescape

        self.queue = queue
        self.status = status
        self.live = live
        self._password = password
        self._token = token
        self._signer = Signer(secret_key)
        self._guard = LoginGuard()
        self.page_size = page_size
        self.title = title
        self.stale_after = stale_after
        self.live_timeout = live_timeout
        self.clock = clock
        self.env = Environment(
            loader=FileSystemLoader(HERE),
            # Every template, whatever its name: nothing is shown unescaped.
            autoescape=select_autoescape(default=True, default_for_string=True),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.globals.update(when=lambda value: _words(_when(value)), rows=_rows)
        self.env.filters["words"] = _words
        self.env.filters["pretty"] = _pretty
        self.stylesheet = (HERE / "dashboard.css").read_bytes()
        self.urls = Map(
            [
                Rule("/", endpoint="connections", methods=["GET"]),
                Rule("/login", endpoint="login", methods=["GET", "POST"]),
                Rule("/logout", endpoint="logout", methods=["POST"]),
                Rule("/static/dashboard.css", endpoint="stylesheet", methods=["GET"]),
                Rule("/jobs", endpoint="jobs", methods=["GET"]),
                Rule("/jobs/bulk", endpoint="bulk", methods=["POST"]),
                Rule(f"/jobs/<{_ID}:job_id>", endpoint="job", methods=["GET"]),
                Rule(
                    f"/jobs/<{_ID}:job_id>/<any(request, response):part>.xml",
                    endpoint="download",
                    methods=["GET"],
                ),
                Rule(
                    f"/jobs/<{_ID}:job_id>/<any(retry, cancel, resolve):action>",
                    endpoint="act",
                    methods=["POST"],
                ),
                Rule("/sessions", endpoint="sessions", methods=["GET"]),
                Rule(f"/sessions/<{_ID}:transcript>", endpoint="session", methods=["GET"]),
                Rule("/live", endpoint="live", methods=["GET", "POST"]),
            ],
            strict_slashes=False,
        )

    # -- WSGI ---------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = Request(environ)
        # Form fields and bodies are small here: refuse a flood before parsing it.
        request.max_content_length = 64 * 1024
        request.max_form_memory_size = 64 * 1024
        response = self.respond(request)
        response.headers["Content-Security-Policy"] = POLICY
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers.setdefault("Cache-Control", "no-store")
        return response(environ, start_response)

    def respond(self, request: Request) -> Response:
        """The response to one request: authentication, CSRF, then the page."""
        adapter = self.urls.bind_to_environ(request.environ)
        visit = self._signer.visit(request.cookies.get(COOKIE), now=self.clock())
        address = request.remote_addr or ""
        try:
            endpoint, values = adapter.match()
            if endpoint == "stylesheet":
                return Response(
                    self.stylesheet, mimetype="text/css", headers={"Cache-Control": "max-age=3600"}
                )
            if endpoint == "login":
                return self.login(request, adapter, visit)
            bearer = self._bearer(request)
            if bearer is not None and self._guard.wait(address, now=self.clock()) > 0:
                # Guessing tokens is guessing passwords: the same wait.
                return self._page(
                    adapter,
                    None,
                    "error.html",
                    status=429,
                    code=429,
                    message="Too many wrong secrets: try again later.",
                )
            if bearer is False:
                self._guard.failed(address, now=self.clock())
                return self._page(
                    adapter,
                    None,
                    "error.html",
                    status=401,
                    code=401,
                    message="The bearer token is wrong.",
                    headers={"WWW-Authenticate": "Bearer"},
                )
            if not bearer and (visit is None or not visit.logged_in):
                if request.method not in ("GET", "HEAD"):
                    raise Forbidden("Log in first.")
                wanted = request.script_root + request.full_path.rstrip("?")
                target = adapter.build("login", {"next": wanted})
                return _redirect(target)
            if request.method == "POST" and not bearer:
                self._check_csrf(request, visit)
            view = getattr(self, f"view_{endpoint}")
            response: Response = view(request, adapter, visit, **values)
            return response
        except StorageError as exc:
            # The database is away or locked: say so, keep the traceback in the log.
            logger.error("dashboard: %s %s: %s", request.method, request.path, exc, exc_info=exc)
            return self._page(
                adapter,
                visit,
                "error.html",
                status=503,
                code=503,
                message="The job database could not be read; try again in a moment.",
            )
        except HTTPException as exc:
            code = exc.code or 500
            return self._page(
                adapter, visit, "error.html", status=code, code=code, message=exc.description
            )

    def _bearer(self, request: Request) -> bool | None:
        """True: the right token; False: a wrong one; None: no bearer token sent."""
        header = request.headers.get("Authorization", "")
        if not header.lower().startswith("bearer "):
            return None
        given = header[len("bearer ") :].strip()
        return self._token is not None and same_secret(given, self._token)

    def _check_csrf(self, request: Request, visit: Visit | None) -> None:
        if not self._signer.csrf_ok(visit, request.form.get("csrf")):
            logger.warning("dashboard: a POST to %s without a valid CSRF token", request.path)
            raise Forbidden("The form's security token is missing or wrong: reload the page.")

    def _page(
        self,
        adapter: MapAdapter,
        visit: Visit | None,
        template: str,
        *,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
        stream: bool = False,
        **context: Any,
    ) -> Response:
        """A page; with ``stream``, sent piece by piece as the template renders it."""
        made = self.env.get_template(template)
        context.update(
            title=self.title,
            url=lambda endpoint, **values: adapter.build(endpoint, values),
            csrf=self._signer.csrf_token(visit) if visit else "",
            logged_in=bool(visit and visit.logged_in),
        )
        page: str | Iterator[str] = made.generate(context) if stream else made.render(context)
        return Response(page, status=status, mimetype="text/html", headers=dict(headers or {}))

    def _set_cookie(self, response: Response, request: Request, visit: Visit) -> None:
        response.set_cookie(
            COOKIE,
            self._signer.cookie(visit),
            max_age=int(visit.expires - self.clock()),
            path=(request.script_root or "") + "/",
            secure=request.is_secure,
            httponly=True,
            samesite="Strict",
        )

    # -- login --------------------------------------------------------------------------------

    def login(self, request: Request, adapter: MapAdapter, visit: Visit | None) -> Response:
        """The login form; a right password gives a new, logged-in session cookie."""
        next_url = request.values.get("next", "")
        if not _own_path(next_url, (request.script_root or "") + "/"):
            next_url = adapter.build("connections")
        if request.method == "GET":
            fresh = visit or self._signer.new_visit(logged_in=False, now=self.clock())
            response = self._page(adapter, fresh, "login.html", next=next_url, wrong=False)
            if visit is None:
                self._set_cookie(response, request, fresh)
            return response
        self._check_csrf(request, visit)
        address = request.remote_addr or ""  # behind a proxy: ProxyFix gives the client's
        wait = self._guard.wait(address, now=self.clock())
        if wait > 0:
            # Too many wrong passwords from here: no password is even compared.
            return self._page(
                adapter,
                visit,
                "error.html",
                status=429,
                code=429,
                message=f"Too many wrong passwords: try again in {wait:.0f} seconds.",
                headers={"Retry-After": str(max(1, round(wait)))},
            )
        if self._password is None or not same_secret(
            request.form.get("password", ""), self._password
        ):
            self._guard.failed(address, now=self.clock())
            logger.warning("dashboard: a wrong password from %s", address)
            return self._page(adapter, visit, "login.html", status=401, next=next_url, wrong=True)
        self._guard.succeeded(address)
        response = _redirect(next_url)
        self._set_cookie(
            response, request, self._signer.new_visit(logged_in=True, now=self.clock())
        )
        return response

    def view_logout(self, request: Request, adapter: MapAdapter, visit: Visit | None) -> Response:
        response = _redirect(adapter.build("login"))
        response.delete_cookie(COOKIE, path=(request.script_root or "") + "/")
        return response

    # -- pages --------------------------------------------------------------------------------

    def view_connections(
        self, request: Request, adapter: MapAdapter, visit: Visit | None
    ) -> Response:
        rows = connection_rows(self.queue, self.status, now=self.clock(), stale=self.stale_after)
        return self._page(
            adapter,
            visit,
            "connections.html",
            rows=rows,
            now=self.clock(),
            has_status=self.status is not None,
        )

    def view_jobs(self, request: Request, adapter: MapAdapter, visit: Visit | None) -> Response:
        wanted = _filters(request.args)
        states = [wanted.state] if wanted.state else []
        offset = (wanted.page - 1) * self.page_size
        # A queue written before jobs_page was part of the port lacks it:
        # its jobs are filtered and paged here.
        if isinstance(self.queue, OperatorQueue):
            page, total = self.queue.jobs_page(
                user=wanted.user or None,
                states=states,
                kind=wanted.kind or None,
                search=wanted.search or None,
                limit=self.page_size,
                offset=offset,
            )
        else:
            found = [
                job
                for job in self.queue.jobs(user=wanted.user or None, states=states)
                if (not wanted.kind or job.kind == wanted.kind)
                and (not wanted.search or _found(job, wanted.search))
            ]
            total = len(found)
            page = found[::-1][offset : offset + self.page_size] if offset < total else []
        last_page = max(1, -(-total // self.page_size))
        return self._page(
            adapter,
            visit,
            "jobs.html",
            jobs=page,
            total=total,
            filters=wanted,
            last_page=last_page,
            states=list(JobState),
            can_act=lambda job: _can_retry(job) or job.state in CANCELLABLE,
        )

    def view_bulk(self, request: Request, adapter: MapAdapter, visit: Visit | None) -> Response:
        """Retry or cancel the jobs ticked on the list, each by its own transition."""
        action = request.form.get("action", "")
        if action not in BULK:
            raise BadRequest("action must be retry or cancel")
        back = _filters(request.form).query()  # checked before anything moves
        given = request.form.getlist("job")
        if not given:
            raise BadRequest("Tick the jobs to act on first.")
        # What one page of the list can tick: the work of one request stays bounded.
        if len(given) > self.page_size:
            raise BadRequest(f"Act on at most {self.page_size} jobs at once.")
        if not all(_PAGE.fullmatch(text) and 0 < int(text) <= MAX_ID for text in given):
            raise BadRequest("each job must be a job's id")
        ids = list(dict.fromkeys(int(text) for text in given))
        act = retry_job if action == "retry" else cancel_job
        outcomes: list[tuple[int, Job | None, str | None]] = []
        for job_id in ids:
            try:
                act(self.queue, job_id)
                refused = None
            except JobError as exc:
                refused = str(exc)  # this one moved on, or cannot go there: the others still go
            outcomes.append((job_id, self.queue.get(job_id), refused))
        done = [job_id for job_id, _job, refused in outcomes if refused is None]
        logger.info("dashboard: jobs %s %s by the operator", done, BULK[action])
        return self._page(
            adapter,
            visit,
            "bulk.html",
            status=409 if len(done) < len(ids) else 200,
            action=action,
            verb=BULK[action],
            outcomes=outcomes,
            done=len(done),
            back=back,
        )

    def _job(self, job_id: int) -> Job:
        job = self.queue.get(job_id)
        if job is None:
            raise NotFound(f"There is no job {job_id}.")
        return job

    def view_job(
        self, request: Request, adapter: MapAdapter, visit: Visit | None, job_id: int
    ) -> Response:
        return self._job_page(adapter, visit, self._job(job_id), note=request.args.get("note"))

    def _job_page(
        self,
        adapter: MapAdapter,
        visit: Visit | None,
        job: Job,
        *,
        note: str | None = None,
        refused: str | None = None,
        status: int = 200,
    ) -> Response:
        request_text = _shown_xml(job.request)
        response_text = _shown_xml(getattr(job, "response", None))
        dependencies = [(dep, self.queue.get(dep)) for dep in job.depends_on]
        return self._page(
            adapter,
            visit,
            "job.html",
            status=status,
            job=job,
            request_text=request_text,
            missing_request=_missing_request(job),
            response_text=response_text,
            has_response=getattr(job, "response", None) is not None,
            explanation=explain_code(job.error_code),
            dependencies=dependencies,
            history=self.queue.history(job.id),
            note=NOTES.get(note or ""),
            refused=refused,
            can_retry=_can_retry(job),
            can_cancel=job.state in CANCELLABLE,
            can_resolve=job.state is JobState.UNKNOWN,
        )

    def view_download(
        self, request: Request, adapter: MapAdapter, visit: Visit | None, job_id: int, part: str
    ) -> Response:
        document = getattr(self._job(job_id), part, None)
        if document is None:
            raise NotFound(f"Job {job_id} keeps no {part} document.")
        # An attachment of XML: the browser saves it and never renders it.
        return Response(
            document,
            mimetype="application/xml",
            headers={"Content-Disposition": f'attachment; filename="job-{job_id}-{part}.xml"'},
        )

    def view_act(
        self, request: Request, adapter: MapAdapter, visit: Visit | None, job_id: int, action: str
    ) -> Response:
        job = self._job(job_id)
        try:
            if action == "retry":
                retry_job(self.queue, job_id)
                note = "retried"
            elif action == "cancel":
                cancel_job(self.queue, job_id)
                note = "cancelled"
            else:
                said = request.form.get("happened")
                if said not in ("yes", "no"):
                    raise BadRequest("happened must be yes or no")
                resolve_unknown(self.queue, job_id, happened=said == "yes")
                note = "happened" if said == "yes" else "not-happened"
        except JobError as exc:
            # The job moved on meanwhile (or cannot go there): say why, change nothing.
            return self._job_page(
                adapter, visit, self.queue.get(job_id) or job, refused=str(exc), status=409
            )
        logger.info("dashboard: job %s (%s): %s by the operator", job_id, job.kind, note)
        return _redirect(adapter.build("job", {"job_id": job_id, "note": note}))

    def view_sessions(self, request: Request, adapter: MapAdapter, visit: Visit | None) -> Response:
        user = request.args.get("user", "")
        if len(user) > FILTER_MAX or _CONTROL.search(user):
            raise BadRequest(f"user must be text of at most {FILTER_MAX} characters")
        page_text = request.args.get("page", "1")
        if not _PAGE.fullmatch(page_text) or int(page_text) < 1:
            raise BadRequest("page must be a whole number, 1 or more")
        page = int(page_text)
        sessions, older = None, False
        if self.status is not None:
            # The store keeps a bounded number per user; a page past them is empty.
            offset = (page - 1) * self.page_size
            # One more than a page: whether an older page holds any, without counting.
            sessions = (
                self.status.sessions(user=user or None, limit=self.page_size + 1, offset=offset)
                if offset <= MAX_OFFSET
                else []
            )
            older = len(sessions) > self.page_size
            sessions = sessions[: self.page_size]
        return self._page(
            adapter, visit, "sessions.html", sessions=sessions, user=user, page=page, older=older
        )

    def view_session(
        self, request: Request, adapter: MapAdapter, visit: Visit | None, transcript: int
    ) -> Response:
        found = self.status.session(transcript) if self.status is not None else None
        if found is None:
            raise NotFound(f"There is no session {transcript}.")
        return self._page(adapter, visit, "session.html", session=found)

    def view_live(self, request: Request, adapter: MapAdapter, visit: Visit | None) -> Response:
        user, check, expect = request.form.get("user", ""), None, None
        if request.method == "POST":
            if self.live is None:
                raise BadRequest("No live client was given to the dashboard.")
            if not user.strip() or len(user) > FILTER_MAX or _CONTROL.search(user):
                raise BadRequest("Name the Web Connector user to check.")
            expect = _expect(self.live.status(user), now=self.clock(), wait=self.live_timeout)
            check = HealthCheck(self.live, user, timeout=self.live_timeout)
        return self._page(
            adapter,
            visit,
            "live.html",
            # The check may wait for the Web Connector's next update: the page
            # says so at once and how long it has waited, while it waits.
            stream=check is not None,
            headers={"X-Accel-Buffering": "no"} if check else None,  # nginx: pass each piece on
            user=user,
            check=check,
            expect=expect,
            timeout=self.live_timeout,
            has_live=self.live is not None,
        )


class HealthCheck:
    """A health check run in its own thread, so that its page can show it waiting.

    Args:
        live: the live client.
        user: the Web Connector user to check.
        timeout: seconds to wait for QuickBooks' answer.
    """

    def __init__(self, live: LiveClient, user: str, *, timeout: float) -> None:
        self.user = user
        self.timeout = timeout
        self.result: Any = None
        #: What ended the check without an answer, and that error in words (None: an answer).
        self.failure: str | None = None
        self.verdict: str | None = None
        self._live = live
        self._done = threading.Event()
        self._began = time.monotonic()
        threading.Thread(target=self._run, name="qbwc-dashboard-health", daemon=True).start()

    def _run(self) -> None:
        try:
            self.result = self._live.health(self.user, timeout=self.timeout)
        except QBWCError as exc:
            # Offline, timed out, refused: the error says which, and since when.
            self.failure = f"{type(exc).__name__}: {exc}"
            self.verdict = _verdict(exc)
        except Exception as exc:  # the page must end, whatever went wrong
            logger.exception("dashboard: the health check of %s raised", self.user)
            self.failure = f"{type(exc).__name__}: {exc}"
            self.verdict = "The check failed."
        finally:
            logger.info(
                "dashboard: health check of %s took %.3f s",
                self.user,
                time.monotonic() - self._began,
            )
            self._done.set()

    def waiting(self, every: float = 1.0) -> Iterator[int]:
        """Whole seconds waited so far, each ``every`` seconds, until the check ends."""
        while not self._done.wait(every):
            yield int(time.monotonic() - self._began)

    @property
    def took(self) -> float:
        """Seconds the check has taken (so far)."""
        return time.monotonic() - self._began


def _verdict(exc: QBWCError) -> str:
    """How a health check ended without an answer, in one sentence."""
    if isinstance(exc, QuickBooksOffline):
        return "Offline: the check was not sent."
    if isinstance(exc, LiveTimeout):
        if exc.sent:
            return f"No answer within {exc.timeout:g} s, although QuickBooks was asked."
        return (
            f"No answer within {exc.timeout:g} s: the Web Connector did not ask for work"
            " in that time, so nothing was sent to QuickBooks."
        )
    return "No answer: the check ended without one."


def _expect(found: list[ConnectionStatus], *, now: float, wait: float) -> str:
    """What a health check waits for, from what the status says of the user's Web Connector."""
    seen = [s.last_seen for s in found if s.last_seen]
    if any(s.ticket for s in found):
        return "A session is open: the check goes out at the Web Connector's next ask."
    if not seen:
        return f"The check goes out at the Web Connector's next update, if within {wait:g} s."
    ago = max(0, round(now - max(seen)))
    return (
        f"No session is open (last call {_when(max(seen))}, {ago} s ago): the check goes"
        f" out at the Web Connector's next scheduled update, if within {wait:g} s."
    )


def _can_retry(job: Job) -> bool:
    return job.state in RETRIABLE and job.replaced_by is None and not job.purged


def _own_path(target: str, root: str) -> bool:
    """Whether a login may send the browser to ``target``: a path of this dashboard only.

    Args:
        target: the ``next`` the login form was given (any text).
        root: the dashboard's own prefix, ending in ``/``.

    Returns:
        False for another site ("//host", "https:...", "/\\host", a control
        character a browser would drop), for a path outside ``root``, and
        for a dot segment (browsers read ``%2e%2e`` as ``..`` too).
    """
    if _ANY_CONTROL.search(target) or "\\" in target or not target.startswith(root):
        return False
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return False
    return all(unquote(segment) not in (".", "..") for segment in parts.path.split("/"))


def _redirect(location: str) -> Response:
    # 303: after a POST the browser GETs the new page, and a reload posts nothing again.
    return Response("", status=303, headers={"Location": location})


def explain_code(code: str | None) -> Explanation | None:
    """QuickBooks' or the Web Connector's code in words; None for our own codes ("schema")."""
    if not code or not _EXPLAINABLE.fullmatch(code):
        return None
    return explain(code)


@dataclass(frozen=True, kw_only=True)
class ConnectionRow:
    """One line of the connections page: a user and company file, and what is wrong there.

    Attributes:
        user, company_file: whose connection it is.
        status: what the status store knows (None: the user has jobs but
            no call of theirs was recorded).
        pending, failed, unknown: the user's jobs in those states (all of
            the user's jobs: a job for "any company file" belongs to none).
        problems: what is wrong, in words; empty when nothing is.
    """

    user: str
    company_file: str
    status: ConnectionStatus | None
    pending: int
    failed: int
    unknown: int
    problems: tuple[str, ...]

    @property
    def trouble(self) -> bool:
        """Whether anything is wrong."""
        return bool(self.problems)


def _problems(
    status: ConnectionStatus | None, counts: Mapping[JobState, int], *, now: float, stale: float
) -> tuple[str, ...]:
    """What an operator must look at for one connection, worst first."""
    found = []
    if counts.get(JobState.UNKNOWN):
        found.append(f"{counts[JobState.UNKNOWN]} write(s) of unknown outcome")
    if counts.get(JobState.FAILED):
        found.append(f"{counts[JobState.FAILED]} failed job(s)")
    if status is not None:
        good = status.last_success or 0.0
        if status.connection_error_at and status.connection_error_at > good:
            found.append("QuickBooks could not be reached")
        if status.last_error_at and status.last_error_at > good:
            found.append("the last update ended in an error")
        if status.last_seen is not None and now - status.last_seen > stale:
            found.append("not seen since " + _when(status.last_seen))
    return tuple(found)


def connection_rows(
    queue: OperatorQueue, status: StatusStore | None, *, now: float, stale: float
) -> list[ConnectionRow]:
    """Every user and company file the status store or the queue knows, trouble first.

    Two queries whatever the number of users: the status rows, and the
    queue's counts by user and state (one GROUP BY).
    """
    counts = queue.counts_by_user()
    statuses = status.statuses() if status is not None else []
    seen = {s.user for s in statuses}
    # Users with jobs whose Web Connector was never recorded: a row each, status unknown.
    entries: list[tuple[str, str, ConnectionStatus | None]] = [
        (s.user, s.company_file, s) for s in statuses
    ]
    entries += [(user, "", None) for user in counts if user not in seen]
    rows = []
    for user, company_file, known in entries:
        mine = counts.get(user, {})
        rows.append(
            ConnectionRow(
                user=user,
                company_file=company_file,
                status=known,
                pending=mine.get(JobState.PENDING, 0) + mine.get(JobState.RECONCILE, 0),
                failed=mine.get(JobState.FAILED, 0),
                unknown=mine.get(JobState.UNKNOWN, 0),
                problems=_problems(known, mine, now=now, stale=stale),
            )
        )
    rows.sort(key=lambda r: (not r.trouble, -len(r.problems), -(r.failed + r.unknown), r.user))
    return rows


def make_dashboard_app(
    queue: OperatorQueue,
    *,
    status: StatusStore | None = None,
    live: LiveClient | None = None,
    password: str | None = None,
    token: str | None = None,
    secret_key: bytes | str | None = None,
    page_size: int = 50,
    title: str = "qbwc_spyne",
    stale_after: float = 86400.0,
    live_timeout: float = 30.0,
    clock: Callable[[], float] = time.time,
) -> Dashboard:
    """The operator's dashboard, a WSGI app to mount beside the Web Connector's endpoint.

    Pages: Connections (each user and company, trouble first), Jobs (filter,
    page, each job with its request, answer, error in words, history and
    the retry / cancel / resolve buttons), Sessions (with their calls) and
    Live (a health check). Needs the ``dashboard`` extra (Jinja2).

    Args:
        queue: the job queue to show and act on.
        status: a status store, for the connections' details and the sessions.
        live: a live client, for the health check form.
        password: the password a browser logs in with.
        token: a token scripts send as ``Authorization: Bearer <token>``.
        secret_key: the key session cookies are signed with. Default: a
            random one, so logins end when the process does; give every
            process serving the dashboard the same key.
        page_size: jobs (and sessions) per page.
        title: shown in each page's heading.
        stale_after: seconds without a call after which a connection is
            trouble ("not seen since ...").
        live_timeout: seconds the health check waits for QuickBooks' answer.
        clock: the time source.

    Returns:
        The WSGI app.

    Raises:
        ConfigurationError: neither a password nor a token (there is no
            open dashboard), an empty one, a page size below 1, a live
            timeout that is not a positive number, or Jinja2 is not installed.

    .. versionadded:: Unreleased
    """
    import secrets

    if password is None and token is None:
        raise ConfigurationError(
            "the dashboard needs a password or a token: make_dashboard_app(queue,"
            " password=...) or token=...; for `qbwc-spyne serve --dashboard`, set"
            " QBWC_SPYNE_DASHBOARD_PASSWORD (or QBWC_SPYNE_DASHBOARD_TOKEN)"
        )
    for name, value in (("password", password), ("token", token)):
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise ConfigurationError(f"the dashboard's {name} must be a non-blank string")
    if not (isinstance(live_timeout, int | float) and 0 < live_timeout < float("inf")):
        raise ConfigurationError(f"live_timeout must be a positive number, not {live_timeout!r}")
    if not isinstance(page_size, int) or page_size < 1:
        raise ConfigurationError(f"page_size must be 1 or more, not {page_size!r}")
    try:
        import jinja2  # noqa: F401
    except ImportError:
        raise ConfigurationError(
            needs_extra("the dashboard", package="Jinja2", extra="dashboard")
        ) from None
    if isinstance(secret_key, str):
        secret_key = secret_key.encode()
    return Dashboard(
        queue,
        status=status,
        live=live,
        password=password,
        token=token,
        secret_key=secret_key or secrets.token_bytes(32),
        page_size=page_size,
        title=title,
        stale_after=stale_after,
        live_timeout=live_timeout,
        clock=clock,
    )
