"""Tell someone when a run fails: Dagster's run-failure sensor, sending a webhook POST and/or
an e-mail. Off until configured (env vars, read at each tick):

- `SEGMENTS_ALERT_WEBHOOK_URL`: POST a JSON body `{"text", "run_id", "job", "failures"}`
  there (Slack, Teams and Mattermost incoming webhooks read `text`);
- `SEGMENTS_ALERT_SMTP_HOST` (+ `SEGMENTS_ALERT_SMTP_PORT`, default 25) and
  `SEGMENTS_ALERT_EMAIL_TO` (comma-separated): e-mail through that server, from
  `SEGMENTS_ALERT_EMAIL_FROM` (default `segments@<host>`); `SEGMENTS_ALERT_SMTP_USER` /
  `SEGMENTS_ALERT_SMTP_PASSWORD` to log in (env only, never in git),
  `SEGMENTS_ALERT_SMTP_STARTTLS=true` to upgrade the connection;
- `SEGMENTS_ALERT_UI_URL`: the Dagster UI's base URL, to link the run.

The sensor runs in the daemon (`make dev`, or `dagster-daemon run`), so it sees every failed
run: scheduled, sensor-started, UI and `segments run` alike. It is on by default and does
nothing while no channel is configured.
"""

# No `from __future__ import annotations`: Dagster checks the `context` annotation.

import json
import os
import smtplib
import socket
import urllib.request
from dataclasses import dataclass
from email.message import EmailMessage

import dagster as dg

from pipelines.status import failure_text

TIMEOUT_SECONDS = 10
MAX_FAILURES_LISTED = 10


class AlertError(RuntimeError):
    """A configured channel could not be reached; the message names the setting."""


@dataclass(frozen=True)
class AlertSettings:
    webhook_url: str | None = None
    smtp_host: str | None = None
    smtp_port: int = 25
    email_to: tuple[str, ...] = ()
    email_from: str | None = None
    smtp_user: str | None = None
    smtp_password: str | None = None
    starttls: bool = False
    ui_url: str | None = None

    @property
    def configured(self) -> bool:
        return bool(self.webhook_url or (self.smtp_host and self.email_to))


def load_alert_settings(env: dict[str, str] | None = None) -> AlertSettings:
    env = dict(os.environ if env is None else env)

    def get(name: str) -> str | None:
        return (env.get(name) or "").strip() or None

    port = get("SEGMENTS_ALERT_SMTP_PORT") or "25"
    if not port.isdigit():
        raise AlertError(f"SEGMENTS_ALERT_SMTP_PORT={port!r} is not a port number; e.g. 25 or 587")
    to = tuple(a.strip() for a in (get("SEGMENTS_ALERT_EMAIL_TO") or "").split(",") if a.strip())
    if get("SEGMENTS_ALERT_SMTP_HOST") and not to:
        raise AlertError("SEGMENTS_ALERT_SMTP_HOST is set but SEGMENTS_ALERT_EMAIL_TO is empty")
    return AlertSettings(
        webhook_url=get("SEGMENTS_ALERT_WEBHOOK_URL"),
        smtp_host=get("SEGMENTS_ALERT_SMTP_HOST"),
        smtp_port=int(port),
        email_to=to,
        email_from=get("SEGMENTS_ALERT_EMAIL_FROM") or f"segments@{socket.gethostname()}",
        smtp_user=get("SEGMENTS_ALERT_SMTP_USER"),
        smtp_password=get("SEGMENTS_ALERT_SMTP_PASSWORD"),
        starttls=(get("SEGMENTS_ALERT_SMTP_STARTTLS") or "").lower() in ("1", "true", "yes"),
        ui_url=get("SEGMENTS_ALERT_UI_URL"),
    )


@dataclass(frozen=True)
class Alert:
    run_id: str
    job: str
    failures: tuple[str, ...]
    link: str | None

    @property
    def subject(self) -> str:
        return f"[segments] run {self.run_id[:8]} of {self.job} FAILED"

    @property
    def text(self) -> str:
        lines = [f"Run {self.run_id} of job {self.job} failed."]
        lines += [f"- {f}" for f in self.failures]
        lines.append(f"Open it: {self.link}" if self.link else "Details: `segments status`")
        return "\n".join(lines)


def send(alert: Alert, cfg: AlertSettings) -> list[str]:
    """Send `alert` on every configured channel; the channels used. Raises AlertError naming
    the failing setting (after trying every channel)."""
    sent, errors = [], []
    if cfg.webhook_url:
        body = json.dumps(
            {
                "text": alert.text,
                "run_id": alert.run_id,
                "job": alert.job,
                "failures": list(alert.failures),
            }
        ).encode()
        request = urllib.request.Request(
            cfg.webhook_url, data=body, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
                response.read()
            sent.append("webhook")
        except OSError as exc:  # URLError, HTTPError, timeouts
            errors.append(f"SEGMENTS_ALERT_WEBHOOK_URL: POST failed: {exc}")
    if cfg.smtp_host and cfg.email_to:
        message = EmailMessage()
        message["Subject"], message["From"] = alert.subject, cfg.email_from
        message["To"] = ", ".join(cfg.email_to)
        message.set_content(alert.text)
        try:
            with smtplib.SMTP(cfg.smtp_host, cfg.smtp_port, timeout=TIMEOUT_SECONDS) as smtp:
                if cfg.starttls:
                    smtp.starttls()
                if cfg.smtp_user:
                    smtp.login(cfg.smtp_user, cfg.smtp_password or "")
                smtp.send_message(message)
            sent.append("email")
        except (OSError, smtplib.SMTPException) as exc:
            errors.append(
                f"SEGMENTS_ALERT_SMTP_HOST={cfg.smtp_host}:{cfg.smtp_port}: sending failed: {exc}"
            )
    if errors:
        raise AlertError("; ".join(errors))
    return sent


def alert_for(context: dg.RunFailureSensorContext, ui_url: str | None) -> Alert:
    run = context.dagster_run
    failures = [
        f"step {ev.step_key}: {failure_text(ev.step_failure_data.error).splitlines()[0]}"
        for ev in context.get_step_failure_events()
    ]
    if not failures:  # the run failed outside a step (e.g. the warehouse was busy)
        message = context.failure_event.message or "failed"
        error = getattr(context.failure_event.event_specific_data, "error", None)
        failures = [failure_text(error).splitlines()[0] if error else message]
    if len(failures) > MAX_FAILURES_LISTED:
        more = len(failures) - MAX_FAILURES_LISTED
        failures = [*failures[:MAX_FAILURES_LISTED], f"... and {more} more"]
    link = f"{ui_url.rstrip('/')}/runs/{run.run_id}" if ui_url else None
    return Alert(run.run_id, run.job_name, tuple(failures), link)


@dg.run_failure_sensor(
    name="run_failure_alert",
    default_status=dg.DefaultSensorStatus.RUNNING,
    monitor_all_code_locations=False,
    description=(
        "On a failed run, POSTs to SEGMENTS_ALERT_WEBHOOK_URL and/or e-mails "
        "SEGMENTS_ALERT_EMAIL_TO through SEGMENTS_ALERT_SMTP_HOST; does nothing until one is set."
    ),
)
def run_failure_alert(context: dg.RunFailureSensorContext) -> dg.SkipReason | None:
    cfg = load_alert_settings()
    if not cfg.configured:
        return dg.SkipReason("no alert channel configured (SEGMENTS_ALERT_* settings)")
    alert = alert_for(context, cfg.ui_url)
    channels = send(alert, cfg)
    context.log.info(f"alerted about run {alert.run_id} by {', '.join(channels)}")
    return None


sensors = [run_failure_alert]
