from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "monitor_site.accounts"
    verbose_name = "Accounts"
    label = "accounts"
