"""The authenticator devices in the admin, without their secrets.

django-otp's own admin shows a TOTP device's key, its otpauth:// URI and QR code to anyone who may
view devices (a view-only staff user could then compute any user's codes), and lets staff add a device
with a key of their choosing for someone else. Here devices can be looked at (who, when last used) and
deleted (a lost phone: the user then sets up a new app with their password), never read for their
secret or created: OTP_ADMIN_HIDE_SENSITIVE_DATA (settings) hides the key on the change page, and this
admin answers 404 for the config and QR code pages whatever the id.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import path
from django_otp.plugins.otp_totp.admin import TOTPDeviceAdmin
from django_otp.plugins.otp_totp.models import TOTPDevice

SECRET_FIELDS = ("key",)


class SecretFreeTOTPDeviceAdmin(TOTPDeviceAdmin):
    def get_list_display(self, request: HttpRequest) -> Any:
        return [name for name in super().get_list_display(request) if name != "qrcode_link"]

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        fieldsets = []
        for title, options in super().get_fieldsets(request, obj):
            fields = [f for f in options["fields"] if f not in SECRET_FIELDS and f != "qrcode_link"]
            if fields:
                fieldsets.append((title, {**options, "fields": fields}))
        return fieldsets

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # Nothing about a device is edited here: a confirmed flag or a drift set by hand is a way round
        # the second factor. Delete the device instead.
        return [f.name for f in TOTPDevice._meta.fields if f.name not in SECRET_FIELDS]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def get_urls(self) -> list:
        def gone(request: HttpRequest, pk: str) -> HttpResponse:
            raise Http404("Authenticator secrets are not shown after enrolment.")

        own = [path("<path:pk>/config/", gone), path("<path:pk>/qrcode/", gone)]
        return own + [u for u in super().get_urls() if getattr(u, "name", "") not in _SECRET_VIEWS]


_SECRET_VIEWS = {"otp_totp_totpdevice_config", "otp_totp_totpdevice_qrcode"}

if admin.site.is_registered(TOTPDevice):
    admin.site.unregister(TOTPDevice)
admin.site.register(TOTPDevice, SecretFreeTOTPDeviceAdmin)
