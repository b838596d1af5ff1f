"""The production access log (gunicorn) holds no credential a path carries."""

from types import SimpleNamespace

from gunicorn.config import Config

from config.gunicorn_logging import RedactingLogger


def line_for(path: str, referer: str = "-") -> dict:
    logger = RedactingLogger(Config())
    environ = {"REQUEST_METHOD": "GET", "RAW_URI": path, "PATH_INFO": path.split("?")[0],
               "QUERY_STRING": path.partition("?")[2], "SERVER_PROTOCOL": "HTTP/1.1", "HTTP_REFERER": referer}
    resp = SimpleNamespace(status="200 OK", headers=[], sent=10)
    req = SimpleNamespace(headers=[("REFERER", referer)])
    return logger.atoms(resp, req, environ, SimpleNamespace(seconds=0, microseconds=5))


def test_a_calendar_feeds_secret_never_reaches_the_log():
    secret = "k3Y-9d8s7f6g5h4j3k2l1z0x9c8v7b6n5m4q3w2e1r0t"
    atoms = line_for(f"/api/v1/calendar/{secret}.ics")
    assert secret not in atoms["r"] and secret not in atoms["U"]
    assert atoms["U"] == "/api/v1/calendar/[redacted]"


def test_old_join_links_and_receipt_tokens_are_blanked_in_path_and_referrer():
    atoms = line_for("/join/ABCD2345/", referer="https://prep.example/r/eyJyIjoxfQ:1t:abc/?to=12")
    assert "ABCD2345" not in atoms["r"] and atoms["U"] == "/join/[redacted]/"
    assert "eyJyIjoxfQ" not in atoms["f"] and "eyJyIjoxfQ" not in atoms["{referer}i"]


def test_other_paths_are_logged_as_they_are():
    atoms = line_for("/api/v1/me/checklist/?lang=es")
    assert atoms["r"] == "GET /api/v1/me/checklist/?lang=es HTTP/1.1" and atoms["q"] == "lang=es"
