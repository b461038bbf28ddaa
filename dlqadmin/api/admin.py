from django.contrib import admin

from . import tokens
from .models import ApiToken


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("hint", "user", "name", "scope", "created_at", "expires_at", "last_used_at", "last_used_ip",
                    "revoked_at")
    list_filter = ("scope", "revoked_at")
    readonly_fields = ("user", "key_hash", "hint", "scope", "created_at", "expires_at", "last_used_at",
                       "last_used_ip")
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False  # tokens are created with `manage.py create_api_token`

    @admin.action(description="Revoke selected tokens")
    def revoke(self, request, queryset):
        for token in queryset.select_related("user"):
            tokens.revoke(token, request=request, via="admin")
