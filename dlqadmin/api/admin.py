from django.contrib import admin
from django.db import transaction

from dlqadmin.audit import actions as audit_actions
from dlqadmin.audit import record

from .models import ApiToken


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("hint", "user", "name", "created_at", "last_used_at", "revoked_at")
    list_filter = ("revoked_at",)
    readonly_fields = ("user", "key_hash", "hint", "created_at", "last_used_at")
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False  # tokens are created with `manage.py create_api_token`

    @admin.action(description="Revoke selected tokens")
    def revoke(self, request, queryset):
        for token in queryset.select_related("user"):
            if token.revoked_at is not None:
                continue
            with transaction.atomic():  # no revocation without its audit record, and vice versa
                token.revoke()
                record(audit_actions.TOKEN_REVOKE, request=request, target=f"token:{token.hint}",
                       detail={"hint": token.hint, "user": token.user.get_username(), "user_id": token.user_id,
                               "via": "admin"})
