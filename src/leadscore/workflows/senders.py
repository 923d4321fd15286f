"""Sending one action: a signed webhook POST, or an e-mail through SMTP.

A sender gets the action's stored JSON payload and the action as the model version declares it,
re-read with the environment of the worker's process: URLs and secrets written as ``${ENV}`` in
the model file are never stored in the outbox. Senders return an outcome and never raise for a
failed delivery; ``PermanentFailure`` marks what no retry can fix (a template that does not
render), which goes straight to the dead letters.
"""

from __future__ import annotations

import json
import smtplib
import ssl
import time
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path
from typing import Any

import httpx

from leadscore.model.workflow_spec import EmailAction, WebhookAction
from leadscore.workflows import signing
from leadscore.workflows.templates import TemplateError, render, render_file, template_context
from leadscore.workspace import SmtpSettings

USER_AGENT = "leadscore-webhooks/1"
#: Headers leadscore sets itself; a model's `headers:` cannot replace them.
OWN_HEADERS = {"content-type", "user-agent", "idempotency-key", signing.HEADER.lower(), "leadscore-attempt"}


@dataclass(frozen=True)
class Outcome:
    ok: bool
    status_code: int | None = None
    error: str | None = None
    permanent: bool = False
    target: str | None = None  # e-mail: the rendered recipient


def send_webhook(action: WebhookAction, payload: str, *, action_id: str, attempt: int,
                 client: httpx.Client) -> Outcome:
    """POST the payload; any 2xx is delivered, anything else (or no answer in time) is retried."""
    body = payload.encode("utf-8")
    headers = {k: v for k, v in action.headers.items() if k.lower() not in OWN_HEADERS}
    headers.update({
        "Content-Type": "application/json", "User-Agent": USER_AGENT,
        "Idempotency-Key": action_id, "Leadscore-Attempt": str(attempt),
    })
    if action.secret:
        headers[signing.HEADER] = signing.sign(action.secret, body, int(time.time()))
    try:
        response = client.post(action.url, content=body, headers=headers, timeout=action.timeout_seconds)
    except httpx.TimeoutException:
        return Outcome(False, error=f"no answer within {action.timeout_seconds:g} s")
    except httpx.HTTPError as exc:
        return Outcome(False, error=f"{type(exc).__name__}: {exc}")
    if 200 <= response.status_code < 300:
        return Outcome(True, status_code=response.status_code)
    snippet = response.text[:200].strip()
    return Outcome(False, status_code=response.status_code,
                   error=f"HTTP {response.status_code}" + (f": {snippet}" if snippet else ""))


def send_email(action: EmailAction, payload: str, *, action_id: str, smtp: SmtpSettings,
               templates_dir: Path, timeout: float, password: str | None) -> Outcome:
    """Render the templates with the contact's fields and hand the message to the SMTP server."""
    data: dict[str, Any] = json.loads(payload)
    context = template_context(data)
    what = f"e-mail of workflow `{data.get('workflow')}`"
    try:
        to = render(action.to, context, what=what).strip()
        subject = render(action.subject, context, what=what).strip()
        if action.template is not None:
            body = render_file(templates_dir, action.template, context, what=what)
        else:
            body = render(action.body or "", context, what=what)
    except TemplateError as exc:
        return Outcome(False, error=str(exc), permanent=True)
    if "@" not in to:
        return Outcome(False, error=f"{what}: recipient {to!r} is not an e-mail address", permanent=True,
                       target=to)
    if not smtp.host:
        return Outcome(False, error="no SMTP server: set smtp.host in leadscore.yml", target=to)
    message = EmailMessage()
    message["From"] = smtp.from_address
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(usegmt=True)
    # Stable across retries, like a webhook's Idempotency-Key: mail systems drop duplicates by it.
    message["Message-ID"] = f"<{action_id}@leadscore>"
    message["Idempotency-Key"] = action_id
    html = action.template is not None and ".htm" in action.template
    message.set_content(body, subtype="html" if html else "plain")
    try:
        _smtp_send(message, smtp, timeout, password)
    except (smtplib.SMTPException, OSError) as exc:
        return Outcome(False, error=f"SMTP {smtp.host}:{smtp.port}: {type(exc).__name__}: {exc}", target=to)
    return Outcome(True, target=to)


def _smtp_send(message: EmailMessage, smtp: SmtpSettings, timeout: float, password: str | None) -> None:
    assert smtp.host is not None
    server: smtplib.SMTP
    if smtp.ssl:
        server = smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=timeout, context=ssl.create_default_context())
    else:
        server = smtplib.SMTP(smtp.host, smtp.port, timeout=timeout)
    with server:
        if smtp.starttls and not smtp.ssl:
            server.ehlo()
            if server.has_extn("starttls"):
                server.starttls(context=ssl.create_default_context())
                server.ehlo()
            elif smtp.username:
                # never send a password in clear text because the server did not offer TLS
                raise smtplib.SMTPException("the server does not offer STARTTLS; refusing to log in")
        if smtp.username:
            server.login(smtp.username, password or "")
        server.send_message(message)
