"""REST endpoint of the coordinator's roster: who is behind, one row per patient."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.generics import GenericAPIView

from . import roster
from .permissions import IsStaffMember


class RosterView(GenericAPIView):
    """The patients of the caller's organizations with their figures, sortable.

    A list is not a read of anyone's record, so it leaves no audit entry per row;
    opening a patient (GET /patients/<id>/, /cases/<id>/, the checklist) does.
    """

    permission_classes = [IsStaffMember]

    def get_queryset(self):
        try:
            return roster.roster_rows(user=self.request.user, ordering=self.request.query_params.get("ordering"))
        except roster.UnknownOrdering as exc:
            choices = ", ".join(roster.ORDERINGS)
            raise serializers.ValidationError(
                {"ordering": [f"Unknown ordering “{exc}”. Use one of: {choices}; prefix “-” for descending."]}
            ) from exc

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "ordering",
                OpenApiTypes.STR,
                description="One of " + ", ".join(roster.ORDERINGS) + "; a leading “-” sorts descending.",
                enum=[*roster.ORDERINGS, *(f"-{name}" for name in roster.ORDERINGS)],
            ),
            OpenApiParameter("page", OpenApiTypes.INT),
        ],
        responses={200: dict},
    )
    def get(self, request):
        rows = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response([roster.row_payload(row) for row in rows])
