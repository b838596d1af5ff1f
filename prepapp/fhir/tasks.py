"""Celery entry points of the FHIR connection: pull mode's polls (the logic is in prepapp.fhir.pull)."""

from celery import shared_task

from prepapp.fhir import pull


@shared_task(name="prepapp.tasks.poll_fhir_sources")
def poll_fhir_sources() -> int:
    """Beat's tick: one poll task per enabled source that no poll holds; returns how many were queued."""
    ids = pull.sources_to_poll()
    for source_id in ids:
        poll_fhir_source.delay(source_id)
    return len(ids)


@shared_task(name="prepapp.tasks.poll_fhir_source")
def poll_fhir_source(source_id: int) -> bool | None:
    """Poll one source (a tick that finds it taken by another poll does nothing); True when imported whole."""
    result = pull.source_poll(source_id=source_id)
    return None if result is None else result.ok
