from django.contrib import admin

from .models import MaskingRule


@admin.register(MaskingRule)
class MaskingRuleAdmin(admin.ModelAdmin):
    list_display = ("kind", "pattern", "label", "queue_pattern", "task_type_pattern", "enabled", "updated_at")
    list_filter = ("kind", "enabled")
    search_fields = ("pattern", "label", "queue_pattern", "task_type_pattern", "note")
    readonly_fields = ("created_at", "updated_at")
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
