from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "monitor_site.accounts"
    verbose_name = "Accounts"
    label = "accounts"

    def ready(self) -> None:
        # After every admin module is imported (django.contrib.admin autodiscovers in its own ready(),
        # earlier in INSTALLED_APPS): guard and audit every registered admin action.
        from monitor_site.accounts.admin_actions import admin_actions_guard

        admin_actions_guard()
