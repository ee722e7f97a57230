"""Interfaces, schedules, executions (with their items and partner calls) and
"processed" markers. Changed only through `jobs.services`."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from passgate.orgs.models import OrgScoped


class Interface(OrgScoped):
    """A partner interface configured by an operator."""

    type = models.CharField(max_length=40, help_text="Interface type, registered by a connector.")
    name = models.CharField(max_length=120)
    url = models.CharField(max_length=500, blank=True)
    username = models.CharField(max_length=200, blank=True)
    # Fernet token; never shown back. See jobs.secrets.
    secret_encrypted = models.TextField(blank=True, default="", editable=False)
    # What the operator typed (comments kept) and its parsed, validated value.
    parameters_text = models.TextField(blank=True, default="")
    parameters = models.JSONField(default=dict, blank=True)
    notify_emails = models.TextField(blank=True, default="",
                                     help_text="Addresses to e-mail when a run fails, separated by commas.")
    notify_on_warning = models.BooleanField(default=False,
                                            help_text="Also e-mail when a run ends WARNING.")
    enabled = models.BooleanField(default=True)
    # Types of one group are "one per organisation" (e.g. TIXnGO); NULL = no limit.
    singleton_group = models.CharField(max_length=40, null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["organisation_id", "name"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "name"], name="interface_name_unique"),
            models.UniqueConstraint(fields=["organisation", "singleton_group"],
                                    condition=Q(singleton_group__isnull=False),
                                    name="interface_one_per_group_per_org"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.type})"

    @property
    def has_secret(self) -> bool:
        return bool(self.secret_encrypted)

    @property
    def notify_list(self) -> list[str]:
        return [a.strip() for a in self.notify_emails.replace(";", ",").split(",") if a.strip()]


class Schedule(OrgScoped):
    """Runs one function of one interface every `frequency_minutes`."""

    interface = models.ForeignKey(Interface, on_delete=models.CASCADE, related_name="schedules")
    function = models.CharField(max_length=60)
    name = models.CharField(max_length=120, blank=True)
    enabled = models.BooleanField(default=True)
    frequency_minutes = models.PositiveIntegerField(default=5)
    batch_size = models.PositiveIntegerField(null=True, blank=True,
                                             help_text="Empty = the function's default.")
    parameters_text = models.TextField(blank=True, default="")
    parameters = models.JSONField(default=dict, blank=True)
    date_from = models.DateTimeField(
        null=True, blank=True,
        help_text="Overrides the watermark (start of the last run ending OK or WARNING). Keep it only "
                  "for a one-off catch-up run: a recurring schedule with a date from handles the same "
                  "tickets over and over.")
    simulation = models.BooleanField(default=False, help_text="Run without sending anything to the partner.")
    next_run_at = models.DateTimeField(null=True, blank=True, db_index=True)
    # The lease: who runs this schedule now, until when (renewed while running).
    lease_token = models.CharField(max_length=64, null=True, blank=True, editable=False)
    lease_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["organisation_id", "interface_id", "function", "id"]
        indexes = [models.Index(fields=["enabled", "next_run_at"], name="schedule_due_idx")]

    def __str__(self) -> str:
        return self.name or f"{self.interface.name} · {self.function}"


class ExecutionStatus(models.TextChoices):
    RUNNING = "RUNNING", "Running"
    OK = "OK", "OK"
    WARNING = "WARNING", "Warning (some items failed)"
    ERROR = "ERROR", "Error"


class Trigger(models.TextChoices):
    SCHEDULER = "SCHEDULER", "Scheduler"
    MANUAL = "MANUAL", "Run now (back office / API)"
    CLI = "CLI", "Command line"


class NoticeStatus(models.TextChoices):
    PENDING = "PENDING", "To send"
    SENDING = "SENDING", "Being sent"
    SENT = "SENT", "Sent"
    FAILED = "FAILED", "Failed (retried)"


class Execution(OrgScoped):
    schedule = models.ForeignKey(Schedule, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="executions")
    interface = models.ForeignKey(Interface, on_delete=models.CASCADE, related_name="executions")
    function = models.CharField(max_length=60)
    status = models.CharField(max_length=10, choices=ExecutionStatus.choices, default=ExecutionStatus.RUNNING)
    trigger = models.CharField(max_length=10, choices=Trigger.choices, default=Trigger.SCHEDULER)
    started_at = models.DateTimeField(db_index=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    worker = models.CharField(max_length=120, blank=True)
    task_id = models.CharField(max_length=64, blank=True, help_text="The background task that ran it, if any.")
    lease_token = models.CharField(max_length=64, blank=True)
    # "since" used by the run (date from or watermark); NULL = from the beginning.
    since = models.DateTimeField(null=True, blank=True)
    date_from_used = models.BooleanField(default=False)
    simulation = models.BooleanField(default=False)
    batch_size = models.PositiveIntegerField(null=True, blank=True)
    selected = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    summary = models.TextField(blank=True)
    error = models.TextField(blank=True)
    error_cause = models.TextField(blank=True)
    # How many items the selection still held after this run's batch (None: the function does
    # not select by changes). Counted up to runner.REMAINING_COUNT_LIMIT.
    remaining = models.PositiveIntegerField(null=True, blank=True)
    # The failure notice: sent by a task (never by the scheduler), retried by JOBS_RETRY_NOTICES.
    notice_status = models.CharField(max_length=10, choices=NoticeStatus.choices, blank=True, default="")
    notice_attempts = models.PositiveSmallIntegerField(default=0)
    notice_error = models.CharField(max_length=300, blank=True)
    notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            # At most one RUNNING execution per schedule, whatever the workers do.
            models.UniqueConstraint(fields=["schedule"], condition=Q(status="RUNNING"),
                                    name="execution_one_running_per_schedule"),
        ]
        indexes = [
            models.Index(fields=["schedule", "status", "started_at"], name="execution_watermark_idx"),
            models.Index(fields=["organisation", "status", "started_at"], name="execution_status_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.function} {self.status}"

    @property
    def duration(self):
        return (self.ended_at - self.started_at) if self.ended_at and self.started_at else None


class ItemOutcome(models.TextChoices):
    DONE = "DONE", "Done"
    FAILED = "FAILED", "Failed"
    SKIPPED = "SKIPPED", "Skipped"


class ExecutionItem(OrgScoped):
    """What happened to one ticket (or other object) in one run."""

    execution = models.ForeignKey(Execution, on_delete=models.CASCADE, related_name="items")
    ticket = models.ForeignKey("sales.Ticket", null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="+")
    object_ref = models.CharField(max_length=160, blank=True, db_index=True,
                                  help_text="Barcode, pass number or other identifier.")
    outcome = models.CharField(max_length=10, choices=ItemOutcome.choices)
    partner_code = models.CharField(max_length=80, blank=True)
    message = models.TextField(blank=True)
    at = models.DateTimeField()

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["ticket", "at"], name="execution_item_ticket_idx")]

    def __str__(self) -> str:
        return f"{self.object_ref or self.ticket_id} {self.outcome}"


class PartnerCall(OrgScoped):
    """One HTTP call made to a partner during a run (never its secrets)."""

    execution = models.ForeignKey(Execution, on_delete=models.CASCADE, related_name="partner_calls")
    at = models.DateTimeField()
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=500)
    status = models.PositiveSmallIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    attempt = models.PositiveSmallIntegerField(default=1)
    error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.method} {self.path} → {self.status or self.error}"


class ProcessedMarker(OrgScoped):
    """Ticket × interface × function: what the partner was last sent (`sent_key`, the ticket's
    version in the function's terms: status, barcode…), when and by which execution. A ticket
    whose current key differs (cancelled, reprinted) is sent again."""

    interface = models.ForeignKey(Interface, on_delete=models.CASCADE, related_name="+")
    function = models.CharField(max_length=60)
    ticket = models.ForeignKey("sales.Ticket", on_delete=models.CASCADE, related_name="+")
    sent_key = models.CharField(max_length=200, blank=True, default="")
    processed_at = models.DateTimeField()
    execution = models.ForeignKey(Execution, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["interface", "function", "ticket"], name="processed_once"),
        ]

    def __str__(self) -> str:
        return f"{self.ticket_id} by {self.function}"


class PendingRetry(OrgScoped):
    """A ticket a schedule failed on and has not handled since: read first at each run, deleted
    when handled. Written with the item outcome, so its size is the number of open failures."""

    schedule = models.ForeignKey(Schedule, on_delete=models.CASCADE, related_name="pending_retries")
    ticket = models.ForeignKey("sales.Ticket", on_delete=models.CASCADE, related_name="+")
    sent_key = models.CharField(max_length=200, blank=True, default="")
    attempts = models.PositiveIntegerField(default=1)
    last_error = models.TextField(blank=True)
    first_failed_at = models.DateTimeField()
    last_failed_at = models.DateTimeField()
    execution = models.ForeignKey(Execution, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["schedule_id", "ticket_id"]
        constraints = [models.UniqueConstraint(fields=["schedule", "ticket"], name="pending_retry_once")]

    def __str__(self) -> str:
        return f"{self.ticket_id} ({self.attempts} attempts)"


class ScheduleState(OrgScoped):
    """A value a schedule's function keeps between runs (its position in the change sequence, a
    partner's pagination key, a cursor), written in the same transaction as the items it covers.
    An administrator may edit it: the next run uses the new value."""

    schedule = models.ForeignKey(Schedule, on_delete=models.CASCADE, related_name="state_values")
    key = models.CharField(max_length=80)
    value = models.JSONField(null=True, blank=True)
    updated_at = models.DateTimeField()
    execution = models.ForeignKey(Execution, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                                  help_text="The run that wrote it (empty: edited by hand).")
    updated_by = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["schedule_id", "key"]
        constraints = [models.UniqueConstraint(fields=["schedule", "key"], name="schedule_state_key_unique")]

    def __str__(self) -> str:
        return f"{self.key} = {self.value!r}"
