from django.contrib import admin

from .models import MaskingRule


@admin.register(MaskingRule)
class MaskingRuleAdmin(admin.ModelAdmin):
    list_display = ("kind", "pattern", "label", "queue_pattern", "task_type_pattern", "enabled", "updated_at")
    list_filter = ("kind", "enabled")
    search_fields = ("pattern", "label", "queue_pattern", "task_type_pattern", "note")
    readonly_fields = ("created_at", "updated_at")

    # Rules are changed under Policies → Masking rules, where each change is
    # validated and audited; the admin only shows them.
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
    fields = (
        "kind",
        "pattern",
        "label",
        "queue_pattern",
        "task_type_pattern",
        "enabled",
        "note",
        "created_at",
        "updated_at",
    )
