"""Where a patient API request spends its time: `python -m bench.profile_api [--profile]`.

Runs requests in this process straight through the project's WSGI application with
production settings (DEBUG off, throwaway secrets), as the demo patient signed in with a
session, and prints per path the median time of one request and its SQL queries. With
--profile, pyinstrument (if installed: `pip install pyinstrument`) shows the call tree of the
checklist read. No server, no network: the figures leave out gunicorn and the socket.

Uses a scratch database with the demo clinic (`bench_profile`, made and dropped here).
"""

from __future__ import annotations

import argparse
import io
import os
import secrets
import statistics
import sys
import tempfile
import time

from bench.common import drop_database, recreate_database, require_services, scratch

DB_NAME = scratch("bench_profile")
PATHS = ["/bench/floor/", "/api/v1/me/", "/api/v1/me/case/", "/api/v1/me/checklist/", "/api/v1/me/checklist/state/",
         "/api/v1/me/inbox/"]


def setup() -> None:
    recreate_database(DB_NAME)
    os.environ.update(
        DJANGO_SETTINGS_MODULE="bench.web_settings", DEBUG="false", SECRET_KEY=secrets.token_urlsafe(64),
        ALLOWED_HOSTS="127.0.0.1", SITE_URL="https://127.0.0.1", EMAIL_URL="smtp://127.0.0.1:25",
        TRUSTED_PROXY_COUNT="1", BENCH_DB_NAME=DB_NAME, LOG_LEVEL="WARNING",
    )
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("seed_demo", stdout=io.StringIO())


def environ(path: str, cookie: str = "", **extra) -> dict:
    env = {
        "REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": "", "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000", "HTTP_HOST": "127.0.0.1", "REMOTE_ADDR": "127.0.0.1", "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_X_FORWARDED_PROTO": "https", "HTTP_X_FORWARDED_FOR": "127.0.0.1", "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""), "wsgi.errors": sys.stderr, "wsgi.multithread": False,
        "wsgi.multiprocess": True, "wsgi.run_once": False, "wsgi.version": (1, 0),
    }
    if cookie:
        env["HTTP_COOKIE"] = cookie
    env.update(extra)
    return env


def call(app, env) -> tuple[str, dict, bytes]:
    answer = {}

    def start_response(status, headers, exc_info=None):
        answer["status"], answer["headers"] = status, dict(headers)

    result = app(env, start_response)
    try:
        body = b"".join(result)
    finally:
        # As a server does: closing the answer ends the request (request_finished), which lets
        # Django recycle the database connection and health-check it at the next request.
        result.close()
    return answer["status"], answer["headers"], body


def patient_session_cookie() -> str:
    """A session for the demo patient, made as signing in makes one."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from django.utils import timezone

    from prepapp.authentication import SESSION_USER_BACKEND
    from prepapp.models import SESSION_GENERATION_KEY, SESSION_KIND_KEY, SESSION_LAST_ACTIVITY_KEY, Patient

    user = Patient.objects.get(full_name="Rosa Alvarez").user
    session = SessionStore()
    session.update({
        SESSION_KEY: str(user.pk), BACKEND_SESSION_KEY: SESSION_USER_BACKEND,
        HASH_SESSION_KEY: user.get_session_auth_hash(), SESSION_GENERATION_KEY: 0, SESSION_KIND_KEY: "patient",
        SESSION_LAST_ACTIVITY_KEY: int(timezone.now().timestamp()),
    })
    session.create()
    return f"{settings.SESSION_COOKIE_NAME}={session.session_key}"


def measure(app, env_for, runs: int, before=None) -> tuple[float, float, int, str, dict, bytes]:
    """Median wall and CPU time of one request (ms), and the queries it made; `before()` runs untimed before each."""
    from django.db import connection

    before = before or (lambda: None)
    call(app, env_for())  # warm-up
    before()
    statements = []

    def count(execute, sql, params, many, context):
        statements.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        status, headers, body = call(app, env_for())
    wall, cpu = [], []
    for _ in range(runs):
        before()
        env = env_for()
        t0, c0 = time.perf_counter(), time.process_time()
        call(app, env)
        wall.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
    return statistics.median(wall), statistics.median(cpu), len(statements), status, headers, body


def tick(app, cookie: str, args) -> None:
    """POST complete and reopen in turn over every step of the demo checklist, as the bench's wrk script does."""
    import json
    from django.utils.crypto import get_random_string

    from django.db import connection

    from checklists.models import Task

    ids = list(Task.objects.filter(checklist__case__patient__full_name="Rosa Alvarez").order_by("id")
               .values_list("id", flat=True))
    csrf = get_random_string(32)  # the form of token Django accepts
    cookies = f"{cookie}; csrftoken={csrf}"
    counter = {"n": 0}

    def env_for():
        n = counter["n"]
        counter["n"] += 1
        action = "complete" if (n // len(ids)) % 2 == 0 else "reopen"
        return environ(f"/api/v1/me/tasks/{ids[n % len(ids)]}/{action}/", cookies, REQUEST_METHOD="POST",
                       HTTP_X_CSRFTOKEN=csrf, HTTP_ORIGIN="https://127.0.0.1", CONTENT_LENGTH="0")

    for action in ("complete", "reopen"):
        # One of each, its statements shown.
        statements = []

        def count(execute, sql, params, many, context):
            statements.append(sql)
            return execute(sql, params, many, context)

        task_id = ids[0]
        with connection.execute_wrapper(count):
            status, _, body = call(app, environ(f"/api/v1/me/tasks/{task_id}/{action}/", cookies,
                                                REQUEST_METHOD="POST", HTTP_X_CSRFTOKEN=csrf,
                                                HTTP_ORIGIN="https://127.0.0.1", CONTENT_LENGTH="0"))
        assert status.startswith("200"), (status, body[:300])  # nosec B101 (a profiling script, never run optimised)
        print(f"{action}: {status[:3]}, {len(statements)} statements")
        if args.show_queries:
            for sql in statements:
                print("   ", sql[:240])
        json.loads(body)
    wall, cpu, queries, status, _, _ = measure(app, env_for, args.runs)
    print(f"{'tick (complete/reopen in turn)':32} {status[:3]}  {wall:6.2f} ms wall  {cpu:6.2f} ms CPU  "
          f"{queries} queries")
    if args.profile:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.0001)
        profiler.start()
        for _ in range(args.runs):
            call(app, env_for())
        profiler.stop()
        print(profiler.output_text(unicode=False, color=False, show_all=False))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--profile", action="store_true", help="pyinstrument's call tree of one path's requests")
    parser.add_argument("--profile-path", default="/api/v1/me/checklist/")
    parser.add_argument("--profile-etag", action="store_true", help="profile the revalidation (If-None-Match)")
    parser.add_argument("--show-queries", action="store_true")
    parser.add_argument("--only", help="measure this path alone (e.g. under py-spy); with --profile-etag, its 304")
    parser.add_argument("--tick", action="store_true",
                        help="ticking steps off and on (POST complete/reopen in turn): time, queries, and with "
                             "--profile the call tree")
    args = parser.parse_args(argv)
    require_services()
    setup()
    try:
        from django.core.wsgi import get_wsgi_application

        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        app = get_wsgi_application()
        cookie = patient_session_cookie()
        _, headers, body = call(app, environ("/api/v1/me/checklist/", cookie))
        handle, path = tempfile.mkstemp(suffix=".json")
        os.environ["BENCH_FLOOR_BODY"] = path
        with os.fdopen(handle, "wb") as f:
            f.write(body)
        etag = headers.get("ETag")
        print(f"checklist: {len(body):,} bytes, Cache-Control {headers.get('Cache-Control')!r}, ETag {etag!r}")
        if args.tick:
            tick(app, cookie, args)
            return
        if args.only:
            extra = {"HTTP_IF_NONE_MATCH": etag} if args.profile_etag and etag else {}
            wall, cpu, queries, status, _, _ = measure(app, lambda: environ(args.only, cookie, **extra), args.runs)
            print(f"{args.only:32} {status[:3]}  {wall:6.2f} ms wall  {cpu:6.2f} ms CPU  {queries} queries")
            return
        for path in PATHS:
            wall, cpu, queries, status, _, _ = measure(
                app, lambda p=path: environ(p, "" if "floor" in p else cookie), args.runs)
            print(f"{path:32} {status[:3]}  {wall:6.2f} ms wall  {cpu:6.2f} ms CPU  {queries} queries")
        # The line above is an unchanged checklist, answered with the bytes this process rendered
        # for its validator; this one renders it every time, as after any change.
        from prepapp.lib.response_cache import forget_kept_bodies

        wall, cpu, queries, status, _, _ = measure(
            app, lambda: environ("/api/v1/me/checklist/", cookie), args.runs, before=forget_kept_bodies)
        print(f"{'/api/v1/me/checklist/ (rendered)':32} {status[:3]}  {wall:6.2f} ms wall  {cpu:6.2f} ms CPU  "
              f"{queries} queries")
        if etag:
            wall, cpu, queries, status, _, _ = measure(
                app, lambda: environ("/api/v1/me/checklist/", cookie, HTTP_IF_NONE_MATCH=etag), args.runs)
            print(f"{'/api/v1/me/checklist/ (304)':32} {status[:3]}  {wall:6.2f} ms wall  {cpu:6.2f} ms CPU  "
                  f"{queries} queries")
        if args.show_queries:
            with CaptureQueriesContext(connection) as ctx:
                call(app, environ("/api/v1/me/checklist/", cookie))
            for q in ctx.captured_queries:
                print("  ", q["sql"][:300])
        if args.profile:
            try:
                from pyinstrument import Profiler
            except ImportError:
                raise SystemExit("pip install pyinstrument for --profile") from None
            profiler = Profiler(interval=0.0001)
            extra = {"HTTP_IF_NONE_MATCH": etag} if args.profile_etag and etag else {}
            profiler.start()
            for _ in range(args.runs):
                call(app, environ(args.profile_path, cookie, **extra))
            profiler.stop()
            print(profiler.output_text(unicode=False, color=False, show_all=False))
    finally:
        drop_database(DB_NAME)


if __name__ == "__main__":
    main()
