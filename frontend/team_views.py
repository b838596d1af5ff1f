"""The clinical lead's care-team page: who has a second factor, and resetting one (a lost phone).

Only for clinical leads, and only their own organizations' staff: anyone else gets 404, as
does a membership outside the organizations the lead leads. A reset is audited.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from prepapp import two_factor
from prepapp.lib.client_address import client_ip

from .coordinator_views import staff_required
from .modules import COORDINATOR_PAGES, import_map, module_urls


def _leads_only(request) -> None:
    if not request.leads_a_team:
        raise Http404(_("This page is for clinical leads."))


@staff_required
def team_page(request):
    _leads_only(request)
    team = list(two_factor.team_for_lead(request.user))
    rows = [
        {
            "membership": m,
            "has_second_factor": two_factor.has_second_factor(m.user),
            "required": two_factor.second_factor_required(m.user),
        }
        for m in team
    ]
    return render(request, "frontend/coordinator/team.html", {
        "memberships": request.memberships, "import_map": import_map(COORDINATOR_PAGES),
        "modules": module_urls(COORDINATOR_PAGES), "rows": rows, "nav": "team",
    })


@staff_required
def reset_second_factor(request, membership_id: int):
    """POST from the team page: the teammate's second factor is removed and their sessions end."""
    _leads_only(request)
    if request.method != "POST":
        return redirect("coordinator:team")
    try:
        membership = two_factor.second_factor_reset(
            membership_id=membership_id, reset_by=request.user, path=request.get_full_path(), ip=client_ip(request),
        )
    except two_factor.NotInYourTeam:
        raise Http404(_("No such member of your team.")) from None
    messages.success(request, _("%(name)s's second factor was removed. At their next sign-in they set up a new one.")
                     % {"name": membership.user.get_full_name() or membership.user.get_username()})
    return redirect("coordinator:team")
