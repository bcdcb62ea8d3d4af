"""Notifications: alerts and messages to departments and operators, by e-mail and webhook.

``config`` reads who gets what (``notify.yaml``; secrets only from the environment),
``channels`` sends (SMTP, signed webhooks), ``dispatch`` routes alerts to their
recipients and remembers what was sent (no repeat every run), ``checks`` finds what is
late (resources past their update cycle, applications and objections past their
deadline, failed runs).  The console (issue 15) sends its notifications through the same
``channels`` and ``config``.
"""
