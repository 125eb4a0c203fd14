from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "monitor_site.accounts"
    label = "accounts"
