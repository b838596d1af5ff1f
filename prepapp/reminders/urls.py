"""API routes of the reminder side (inbox, push subscriptions, delivery log), under /api/v1/."""

from django.urls import path

from . import api as views

urlpatterns = [
    path("me/inbox/", views.InboxView.as_view(), name="inbox"),
    path("me/inbox/unread-count/", views.InboxUnreadCountView.as_view(), name="inbox-unread-count"),
    path("me/inbox/read-all/", views.InboxReadAllView.as_view(), name="inbox-read-all"),
    path("me/inbox/<int:pk>/read/", views.InboxReadView.as_view(), name="inbox-read"),
    path("me/push-subscriptions/", views.PushSubscriptionListView.as_view(), name="push-subscriptions"),
    path("me/push-subscriptions/<int:pk>/", views.PushSubscriptionDetailView.as_view(), name="push-subscription"),
    path("me/push/public-key/", views.PushPublicKeyView.as_view(), name="push-public-key"),
    path("patients/<int:pk>/deliveries/", views.PatientDeliveriesView.as_view(), name="patient-deliveries"),
    path("me/deliveries/", views.MyDeliveriesView.as_view(), name="my-deliveries"),
    path("receipts/", views.ReceiptView.as_view(), name="receipts"),
    path("alerts/", views.AlertListView.as_view(), name="alerts"),
    path("alerts/<int:pk>/acknowledge/", views.AlertAcknowledgeView.as_view(), name="alert-acknowledge"),
]
