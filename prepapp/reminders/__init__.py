"""The reminder engine: planning, the outbox, delivery over its channels, its API and Celery tasks.

It sits above the care records (prepapp) and the checklists, and imports from both; neither
of them imports from it. Its models are a Django app of their own (label "reminders").
"""
