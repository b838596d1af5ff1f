"""Every endpoint of the API, mounted under /api/v1/ by config/urls.py."""

from django.urls import path, re_path
from rest_framework.routers import DefaultRouter

from prepapp.api import (
    about,
    access_log,
    alerts,
    auth,
    calendar_feed,
    caregiver_own,
    caregivers,
    cases,
    checklist_parts,
    data_rights,
    deliveries,
    following,
    health_questions,
    inbox,
    me,
    my_checklist,
    my_tasks,
    patients,
    protocols,
    push,
    roster,
    safety,
    tokens,
    visit_sheet,
)
from prepapp.lib.errors import api_not_found

router = DefaultRouter()
router.register("patients", patients.PatientViewSet, basename="patient")
router.register("cases", cases.SurgeryCaseViewSet, basename="case")
router.register("protocols", protocols.ProtocolViewSet, basename="protocol")
router.register("me/tasks", my_tasks.MyTaskViewSet, basename="my-task")

urlpatterns = [
    # Signing in and out
    path("auth/invitation/", auth.InvitationSignInView.as_view(), name="auth-invitation"),
    path("auth/token/", tokens.ObtainTokenView.as_view(), name="auth-token"),
    path("auth/token/revoke/", tokens.RevokeTokenView.as_view(), name="auth-token-revoke"),
    path("auth/signout/", auth.SignOutView.as_view(), name="auth-signout"),
    path("auth/signout-everywhere/", auth.SignOutEverywhereView.as_view(), name="auth-signout-everywhere"),
    path("auth/sign-in-link/", auth.SignInLinkRequestView.as_view(), name="auth-sign-in-link"),
    path("auth/sign-in-link/redeem/", auth.SignInLinkRedeemView.as_view(), name="auth-sign-in-link-redeem"),
    path("patients/<int:pk>/invitation/", auth.PatientInvitationView.as_view(), name="patient-invitation"),
    # The patient's own
    path("me/", me.MeView.as_view(), name="me"),
    path("me/case/", me.MyCaseView.as_view(), name="my-case"),
    path("me/health-check/", health_questions.MyHealthCheckView.as_view(), name="my-health-check"),
    path("me/access-log/", access_log.MyAccessLogView.as_view(), name="my-access-log"),
    path("me/export/", data_rights.MyDataExportView.as_view(), name="my-data-export"),
    path("me/safety/", safety.MySafetyView.as_view(), name="my-safety"),
    path("me/about/", about.MyAboutView.as_view(), name="my-about"),
    path("me/check-ins/", safety.MyCheckInsView.as_view(), name="my-check-ins"),
    path("me/checklist/", my_checklist.MyChecklistView.as_view(), name="my-checklist"),
    path("me/checklist/state/", checklist_parts.MyChecklistStateView.as_view(), name="my-checklist-state"),
    path("checklist-texts/<int:version_id>/<slug:language>/<slug:key>/", checklist_parts.ChecklistTextsView.as_view(),
         name="checklist-texts"),
    path("me/calendar.ics", my_checklist.MyCalendarView.as_view(), name="my-calendar"),
    path("me/calendar-feed/", calendar_feed.MyCalendarFeedView.as_view(), name="my-calendar-feed"),
    path("me/visit-sheet.pdf", visit_sheet.MyVisitSheetView.as_view(), name="my-visit-sheet"),
    path("me/inbox/", inbox.InboxView.as_view(), name="inbox"),
    path("me/inbox/unread-count/", inbox.InboxUnreadCountView.as_view(), name="inbox-unread-count"),
    path("me/inbox/read-all/", inbox.InboxReadAllView.as_view(), name="inbox-read-all"),
    path("me/inbox/<int:pk>/read/", inbox.InboxReadView.as_view(), name="inbox-read"),
    path("me/push-subscriptions/", push.PushSubscriptionListView.as_view(), name="push-subscriptions"),
    path("me/push-subscriptions/<int:pk>/", push.PushSubscriptionDetailView.as_view(), name="push-subscription"),
    path("me/push/public-key/", push.PushPublicKeyView.as_view(), name="push-public-key"),
    path("me/deliveries/", deliveries.MyDeliveriesView.as_view(), name="my-deliveries"),
    # A phone's calendar subscription: the secret in the path is the credential (no session).
    path("calendar/<str:token>.ics", calendar_feed.CalendarFeedView.as_view(), name="calendar-feed"),
    path("me/caregivers/", caregivers.MyCaregiversView.as_view(), name="my-caregivers"),
    path("me/caregivers/<int:pk>/", caregivers.MyCaregiverView.as_view(), name="my-caregiver"),
    # A caregiver's: the patients they follow
    path("following/", following.FollowingView.as_view(), name="following"),
    path("following/settings/", caregiver_own.CaregiverSettingsView.as_view(), name="following-settings"),
    path("following/push/", caregiver_own.CaregiverPushView.as_view(), name="following-push"),
    path("following/inbox/", caregiver_own.FamilyInboxView.as_view(), name="following-inbox"),
    path("following/inbox/<int:pk>/read/", caregiver_own.FamilyMessageReadView.as_view(),
         name="following-inbox-read"),
    path("following/<int:pk>/checklist/", following.FollowedChecklistView.as_view(), name="following-checklist"),
    path("following/<int:pk>/checklist/state/", checklist_parts.FollowedChecklistStateView.as_view(),
         name="following-checklist-state"),
    path("following/<int:pk>/safety/", following.FollowedSafetyView.as_view(), name="following-safety"),
    path("following/<int:pk>/about/", following.FollowedAboutView.as_view(), name="following-about"),
    path("following/<int:pk>/tasks/<int:task_id>/complete/", following.FollowedTaskCompleteView.as_view(),
         name="following-task-complete"),
    path("following/<int:pk>/tasks/<int:task_id>/reopen/", following.FollowedTaskReopenView.as_view(),
         name="following-task-reopen"),
    path("receipts/", deliveries.ReceiptView.as_view(), name="receipts"),
    # The care team's
    path("patients/<int:pk>/caregivers/", caregivers.PatientCaregiversView.as_view(), name="patient-caregivers"),
    path("patients/<int:pk>/facts/", health_questions.PatientFactsView.as_view(), name="patient-facts"),
    path("patients/<int:pk>/erase/", data_rights.PatientEraseView.as_view(), name="patient-erase"),
    path("patients/<int:pk>/deliveries/", deliveries.PatientDeliveriesView.as_view(), name="patient-deliveries"),
    path("patients/<int:pk>/safety/", safety.PatientSafetyView.as_view(), name="patient-safety"),
    path("patients/<int:pk>/rules/<slug:key>/lift/", safety.RuleLiftView.as_view(), name="patient-rule-lift"),
    path("patients/<int:pk>/rules/<slug:key>/reinstate/", safety.RuleReinstateView.as_view(),
         name="patient-rule-reinstate"),
    path("patients/<int:pk>/visit-sheet.pdf", visit_sheet.PatientVisitSheetView.as_view(), name="patient-visit-sheet"),
    path("roster/", roster.RosterView.as_view(), name="roster"),
    path("roster/csv/", roster.RosterCsvView.as_view(), name="roster-csv"),
    path("alerts/", alerts.AlertListView.as_view(), name="alerts"),
    path("alerts/<int:pk>/acknowledge/", alerts.AlertAcknowledgeView.as_view(), name="alert-acknowledge"),
    *router.urls,
    # Last: a path that names no endpoint (or an id that is not a number) gets JSON, not a page.
    re_path(r"^.*$", api_not_found),
]
