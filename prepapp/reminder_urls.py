"""API routes of the reminder side (inbox, push subscriptions, delivery log)."""

urlpatterns: list = []
