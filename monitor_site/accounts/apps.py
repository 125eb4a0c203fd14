from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "monitor_site.accounts"
    verbose_name = "Accounts"
    label = "accounts"

    def ready(self) -> None:
        # After every admin module is imported (django.contrib.admin autodiscovers in its own ready(),
        # earlier in INSTALLED_APPS): guard and audit every registered admin action.
        from django.contrib.auth.signals import user_logged_in, user_login_failed

        from monitor_site.accounts import checks  # noqa: F401  (registers the deploy checks)
        from monitor_site.accounts.admin_actions import admin_actions_guard
        from monitor_site.accounts.admin_names import admin_names_apply
        from monitor_site.accounts.middleware import session_signed_in
        from monitor_site.accounts.throttle import login_failure_record

        admin_actions_guard()
        admin_names_apply()
        user_logged_in.connect(session_signed_in, dispatch_uid="accounts.session_signed_in")
        user_login_failed.connect(login_failure_record, dispatch_uid="accounts.login_failure_record")
