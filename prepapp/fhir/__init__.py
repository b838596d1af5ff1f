"""FHIR R4 in and out: the mapping between the service's records and FHIR resources.

A layer of its own, between the workflows and the API: it reads the care records, the
checklists and the reminders, and writes only through the workflows (an imported bundle books,
moves and cancels surgeries as a coordinator would). Every resource read or written is a
fhir.resources (R4B) model.
"""
