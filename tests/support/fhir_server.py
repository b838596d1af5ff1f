"""A local stand-in for a hospital's FHIR R4 server (the other thing the tests cannot run for real).

A real HTTP server on a loopback thread that answers what pull mode asks, as FHIR servers do:

- search `GET /fhir/Appointment?date=ge2026-12-07&_lastUpdated=gt<instant>&_include=Appointment:patient&_count=N`
  with a `searchset` Bundle sorted by `meta.lastUpdated`, `next` links (absolute, with `_offset`) for
  paging, the included Patients as `search.mode = include`, and the search's own time as the Bundle's
  `meta.lastUpdated` and `timestamp`; an unknown search parameter is refused (400), as strict servers do;
- read `GET /fhir/Patient/<id>` and `GET /fhir/Appointment/<id>`;
- `Authorization: Bearer <token>` checked (401 with an OperationOutcome otherwise).

Every resource put in is a fhir.resources model; the server stamps `meta.lastUpdated` and
`meta.versionId` on its own clock, which may run off this machine's (`clock_offset`), so a
client that took its watermark from its own clock would miss changes. It can be told to answer
an error status, to answer something that is not JSON, to leave `_include` unanswered (as some
servers do), or to go down (the port refuses connections) and come back.
"""

from __future__ import annotations

import json
import threading
from datetime import date, datetime, timedelta
from datetime import timezone as dt_timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

from fhir.resources.R4B.bundle import Bundle, BundleEntry, BundleEntrySearch, BundleLink
from fhir.resources.R4B.meta import Meta
from fhir.resources.R4B.operationoutcome import OperationOutcome, OperationOutcomeIssue

PREFIXES = ("eq", "ne", "gt", "ge", "lt", "le")
SEARCH_PARAMETERS = {"date", "_lastUpdated", "_include", "_count", "_offset"}


def instant(moment: datetime) -> str:
    """A FHIR instant to the millisecond, as servers stamp them."""
    return moment.astimezone(dt_timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _parse_instant(value: str) -> datetime:
    if "T" not in value:
        return datetime.combine(date.fromisoformat(value), datetime.min.time(), tzinfo=dt_timezone.utc)
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _compare(prefix: str, left, right) -> bool:
    return {"eq": left == right, "ne": left != right, "gt": left > right, "ge": left >= right,
            "lt": left < right, "le": left <= right}[prefix]


def _split(raw: str) -> tuple[str, str]:
    return (raw[:2], raw[2:]) if raw[:2] in PREFIXES else ("eq", raw)


class FhirServer:
    def __init__(self, *, token: str = "", clock_offset: timedelta = timedelta(0), answers_include: bool = True):
        self.token = token
        self.clock_offset = clock_offset
        self.answers_include = answers_include
        self.next_links_to: str | None = None  # another address for the next links (a misconfigured proxy)
        self.resources: dict[tuple[str, str], dict] = {}  # (type, id) -> JSON with the server's meta
        self.failure: tuple[int, str] | None = None  # (status, body) to answer every request with
        self.requests: list[tuple[str, dict[str, list[str]]]] = []  # (path, query) of each request received
        self.search_times: list[str] = []  # the meta.lastUpdated of each search's first page
        self._lock = threading.Lock()
        self.port = 0
        self.server: ThreadingHTTPServer | None = None

    # --- control -----------------------------------------------------------------------

    def start(self) -> "FhirServer":
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                server._handle(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self):
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def go_down(self):
        """An outage: nothing listens on the port (connections are refused) until `come_back`."""
        self.stop()

    def come_back(self):
        self.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/fhir"

    def now(self) -> datetime:
        return datetime.now(dt_timezone.utc) + self.clock_offset

    def put(self, *resources) -> None:
        """Create or update resources (fhir.resources models), stamped with the server's time and a new version."""
        with self._lock:
            for resource in resources:
                kind, rid = resource.get_resource_type(), resource.id
                previous = self.resources.get((kind, rid))
                version = int(previous["meta"]["versionId"]) + 1 if previous else 1
                stamped = resource.model_copy(deep=True)
                stamped.meta = Meta(versionId=str(version), lastUpdated=instant(self.now()))
                self.resources[(kind, rid)] = stamped.model_dump(mode="json")

    def answer(self, status: int, body: str | None = None):
        """Answer every request with this status (and body; an OperationOutcome unless given) until `recover`."""
        self.failure = (status, body if body is not None else self._outcome("exception", f"answer {status}"))

    def answer_not_json(self):
        self.failure = (200, "<html><body>Gateway maintenance</body></html>")

    def recover(self):
        self.failure = None

    def searches(self) -> list[dict[str, list[str]]]:
        return [query for path, query in self.requests if path.endswith("/Appointment")]

    # --- the protocol -------------------------------------------------------------------

    def _outcome(self, code: str, text: str) -> str:
        return OperationOutcome(issue=[OperationOutcomeIssue(severity="error", code=code, diagnostics=text)]) \
            .model_dump_json()

    def _reply(self, handler, status: int, body: str, content_type: str = "application/fhir+json"):
        raw = body.encode()
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(raw)))
        handler.end_headers()
        handler.wfile.write(raw)

    def _handle(self, handler):
        parts = urlsplit(handler.path)
        query = parse_qs(parts.query, keep_blank_values=True)
        with self._lock:
            self.requests.append((parts.path, query))
        if self.token and handler.headers.get("Authorization") != f"Bearer {self.token}":
            return self._reply(handler, 401, self._outcome("login", "a valid bearer token is required"))
        if self.failure is not None:
            status, body = self.failure
            return self._reply(handler, status, body)
        segments = parts.path.removeprefix("/fhir/").split("/")
        if segments == ["Appointment"]:
            return self._search(handler, query)
        if len(segments) == 2 and segments[0] in ("Patient", "Appointment"):
            resource = self.resources.get((segments[0], segments[1]))
            if resource is None:
                return self._reply(handler, 404, self._outcome("not-found", f"{parts.path} is not known"))
            return self._reply(handler, 200, json.dumps(resource))
        return self._reply(handler, 404, self._outcome("not-supported", f"{parts.path} is not served here"))

    def _search(self, handler, query: dict[str, list[str]]):
        unknown = sorted(set(query) - SEARCH_PARAMETERS)
        if unknown:
            return self._reply(handler, 400, self._outcome("not-supported", f"unknown search parameter {unknown[0]}"))
        searched_at = instant(self.now())
        with self._lock:
            appointments = [r for (kind, _), r in self.resources.items() if kind == "Appointment"]
        try:
            for raw in query.get("date", []):
                prefix, value = _split(raw)
                day = date.fromisoformat(value)
                appointments = [a for a in appointments if a.get("start")
                                and _compare(prefix, datetime.fromisoformat(a["start"]).date(), day)]
            for raw in query.get("_lastUpdated", []):
                prefix, value = _split(raw)
                moment = _parse_instant(value)
                appointments = [a for a in appointments
                                if _compare(prefix, _parse_instant(a["meta"]["lastUpdated"]), moment)]
            count = int(query.get("_count", ["50"])[0])
            offset = int(query.get("_offset", ["0"])[0])
        except (ValueError, KeyError) as exc:
            return self._reply(handler, 400, self._outcome("invalid", f"cannot read the search: {exc}"))
        appointments.sort(key=lambda a: (a["meta"]["lastUpdated"], a["id"]))
        page = appointments[offset:offset + count]
        # The resources go in as stored, without being checked again: a server hands out what it holds.
        resources = list(page)
        entries = [BundleEntry(fullUrl=f"{self.base_url}/Appointment/{a['id']}",
                               search=BundleEntrySearch(mode="match")) for a in page]
        if self.answers_include and "Appointment:patient" in query.get("_include", []):
            included = []
            for appointment in page:
                for participant in appointment.get("participant", []):
                    ref = (participant.get("actor") or {}).get("reference", "")
                    patient = self.resources.get(("Patient", ref.removeprefix("Patient/")))
                    if ref.startswith("Patient/") and patient is not None and ref not in included:
                        included.append(ref)
                        resources.append(patient)
                        entries.append(BundleEntry(fullUrl=f"{self.base_url}/{ref}",
                                                   search=BundleEntrySearch(mode="include")))
        links = [BundleLink(relation="self", url=f"{self.base_url}/Appointment?{urlencode(query, doseq=True)}")]
        if offset + count < len(appointments):
            following = {**query, "_offset": [str(offset + count)]}
            links.append(BundleLink(relation="next", url=f"{self.next_links_to or self.base_url}/Appointment?"
                                                         f"{urlencode(following, doseq=True)}"))
        if offset == 0:
            self.search_times.append(searched_at)
        bundle = Bundle(type="searchset", total=len(appointments), meta=Meta(lastUpdated=searched_at),
                        timestamp=searched_at, link=links, entry=entries or None)
        body = bundle.model_dump(mode="json")
        for entry, resource in zip(body.get("entry", []), resources):
            entry["resource"] = resource
        return self._reply(handler, 200, json.dumps(body))
