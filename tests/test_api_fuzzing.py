"""Schemathesis against our own OpenAPI schema, inside the suite: as a coordinator and as a patient.

Every operation gets generated requests (valid and invalid) through the real Django stack on
the test database. Whatever the input, no answer may be a 5xx, and every answer must match
what the schema promises (status code, content type, body). Bounded: a few examples per
operation and no shrinking beyond that, so the whole run stays within tens of seconds.
"""

from __future__ import annotations

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, Phase, settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# Operations that end the caller's own session or token would only make the rest 401.
SESSION_ENDERS = r"/auth/(signout|signout-everywhere|token/revoke)/"


def load_schema():
    """The schema as the service publishes it, bound to the WSGI application the requests go through."""
    generator = SchemaGenerator()
    loaded = schemathesis.openapi.from_dict(generator.get_schema(request=None, public=True))
    loaded.app = get_wsgi_application()
    return loaded


schema = load_schema().exclude(path_regex=SESSION_ENDERS)


@pytest.fixture(autouse=True)
def _keep_the_test_connection():
    # Requests go through the WSGI application in this thread, on the test's own database
    # connection: keep Django from closing it at the end of each request, as its test client does.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def token_headers(user) -> dict:
    token, _ = Token.objects.get_or_create(user=user)
    # The WSGI client the fuzzer calls through asks for gzip by default but does not unpack it:
    # ask for the plain body, which the contract checks read (compression: test_compression.py).
    return {"Authorization": f"Token {token.key}", "Origin": "http://localhost", "Accept-Encoding": "identity"}


@pytest.fixture
def coordinator_headers(carol, pat_checklist):
    return token_headers(carol)


@pytest.fixture
def patient_headers(pat_checklist):
    return token_headers(pat_checklist.case.patient.user)


BOUNDED = settings(
    max_examples=3,
    deadline=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)


@schema.parametrize()
@BOUNDED
def test_no_input_from_a_coordinator_breaks_the_api_or_its_contract(case, coordinator_headers):
    case.call_and_validate(headers=coordinator_headers, checks=CHECKS)


@schema.parametrize()
@BOUNDED
def test_no_input_from_a_patient_breaks_the_api_or_its_contract(case, patient_headers):
    case.call_and_validate(headers=patient_headers, checks=CHECKS)
