from django.contrib import admin

from locking.models import Lock


@admin.register(Lock)
class LockAdmin(admin.ModelAdmin):
    list_display = ("locked_object", "user", "created_on", "expires_on")
    search_fields = ("locked_object", "user")
