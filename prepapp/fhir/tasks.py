"""Celery entry points of the FHIR connection: pull mode's polls (the logic is in prepapp.fhir.pull)."""

from celery import shared_task
from django.conf import settings

from prepapp.fhir import pull


@shared_task(name="prepapp.tasks.poll_fhir_sources")
def poll_fhir_sources() -> int:
    """Beat's tick: one poll task per enabled source that no poll holds; returns how many were queued."""
    ids = pull.sources_to_poll()
    for source_id in ids:
        poll_fhir_source.delay(source_id)
    return len(ids)


# A first poll may book a whole schedule: it gets longer than the reminder tasks' limits (its lease is longer still).
@shared_task(name="prepapp.tasks.poll_fhir_source", soft_time_limit=settings.FHIR_PULL_TASK_SECONDS,
             time_limit=settings.FHIR_PULL_TASK_SECONDS + 60)
def poll_fhir_source(source_id: int) -> bool | None:
    """Poll one source (a tick that finds it taken by another poll does nothing); True when imported whole."""
    result = pull.source_poll(source_id=source_id)
    return None if result is None else result.ok
