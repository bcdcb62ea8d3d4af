"""Send a department's notices (onesource.notify.notices) after a console action.

The notice goes out after the response (a background task): the action is committed
whatever the mail server does; ``onesource alerts notify --send`` retries what failed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Request
from starlette.background import BackgroundTask


def after(request: Request, response: Any, make: Callable[[Any], list[Any]]) -> Any:
    """Attach to ``response`` the delivery of ``make(engine)``'s notices; returns it."""
    from onesource.web.console.auth import state

    ex = state(request).exchange

    def send() -> None:
        from onesource.notify.notices import deliver

        deliver(make(ex.store.engine), ex.store.engine, ex.catalog())

    response.background = BackgroundTask(send)
    return response


def request_notice(request: Request, response: Any, request_id: str) -> Any:
    """After filing or deciding an access application: its approvers or its applicants."""
    from onesource.notify.notices import for_request

    return after(request, response, lambda engine: for_request(engine, request_id))


def objection_notice(request: Request, response: Any, objection_id: str) -> Any:
    """After raising or answering an objection: the source's approvers or the raisers."""
    from onesource.notify.notices import for_objection

    return after(request, response, lambda engine: for_objection(engine, objection_id))
