"""OpenAPI 3.1 description of API v1, served at /api/v1/openapi.json."""

_SENSITIVE = {
    "description": "A payload / error / headers / result value: masked, or raw in a reveal answer.",
    "oneOf": [
        {"type": "null"},
        {
            "type": "object",
            "required": ["masked", "kind", "size", "value"],
            "properties": {
                "masked": {"type": "boolean", "description": "False only in a reveal answer."},
                "kind": {"type": "string", "enum": ["json", "text", "binary"]},
                "size": {"type": "integer", "description": "Size of the raw value in bytes."},
                "value": {"type": "string", "description": "Display text (a hex dump for binary)."},
                "truncated": {"type": "boolean"},
                "next_offset": {"type": ["integer", "null"]},
                "masked_labels": {"type": "array", "items": {"type": "string"},
                                  "description": "What masking hid (masked values only)."},
                "base64": {"type": "string", "description": "The raw bytes (reveal answers only)."},
            },
        },
    ],
}
_TIME = {"type": ["string", "null"], "format": "date-time", "description": "RFC 3339, UTC; null if unset."}
_STATES = ["pending", "active", "scheduled", "retry", "archived", "completed", "aggregating"]

_QUEUE_INFO = {
    "type": "object",
    "properties": {
        "queue": {"type": "string"},
        "url": {"type": "string", "format": "uri", "description": "This queue's API URL; ends in '/'."},
        **{k: {"type": "integer"} for k in (
            "size", "pending", "active", "scheduled", "retry", "archived", "completed", "aggregating",
            "groups", "processed", "failed", "processed_total", "failed_total", "memory_usage")},
        "paused": {"type": "boolean"},
        "latency_seconds": {"type": "number"},
        "damaged": {"type": "boolean", "description": "A key of this queue has the wrong Redis type; "
                                                      "the counts are then 0 and mean nothing."},
        "problem": {"type": ["string", "null"], "description": "What is damaged, if anything."},
    },
}

_TASK_INFO = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "queue": {"type": "string"},
        "url": {"type": "string", "format": "uri", "description": "This task's API URL; ends in '/'."},
        "type": {"type": "string"},
        "state": {"type": "string", "enum": _STATES},
        "max_retry": {"type": "integer"},
        "retried": {"type": "integer"},
        "last_err": _SENSITIVE,
        "last_failed_at": _TIME,
        "next_process_at": _TIME,
        "timeout_seconds": {"type": "integer"},
        "deadline": _TIME,
        "group": {"type": ["string", "null"]},
        "is_orphaned": {"type": "boolean"},
        "retention_seconds": {"type": "integer"},
        "completed_at": _TIME,
        "headers": _SENSITIVE,
        "payload": _SENSITIVE,
        "result": _SENSITIVE,
        "broken": {"type": "boolean", "description": "True when asynq's data for this task is unreadable."},
        "problem": {"type": ["string", "null"]},
    },
}

_ERROR = {
    "type": "object",
    "properties": {"error": {"type": "string"}, "detail": {"type": "string"}},
    "required": ["error", "detail"],
}

# What any route can answer besides its own codes (a malformed request, a token of a user
# who must enrol a second factor, an unsupported method, Redis or Postgres down).
_COMMON = {
    "get": {
        "400": "Bad parameter (also: a NUL character in any parameter, a value out of range)",
        "401": "Not authenticated: no token, an unknown, revoked or expired one (token_expired), one of a "
               "deactivated user, or an expired session",
        "403": "Not allowed: missing right, or a second factor is required first (mfa_required)",
        "404": "No such queue, task or operation (or not visible to you)",
        "405": "Method not allowed (see the Allow header)",
        "429": "Too many requests with this token in the current window (rate_limited; see Retry-After)",
        "503": "asynq's Redis or the database is unreachable (redis_unavailable, database_unavailable)",
    },
}
_COMMON["post"] = {**_COMMON["get"],
                   "400": "Bad body: not a JSON object, a member of the wrong type, nested too deeply, a "
                          "NUL character or a lone surrogate in a text",
                   "403": "Not allowed: missing right (audited), a token whose scope does not cover the "
                          "request (insufficient_scope, audited), CSRF token missing for a session, or a "
                          "second factor is required first (mfa_required)"}


_COMMON["delete"] = {**_COMMON["get"], "403": "Not allowed: missing right (audited), or a token without the "
                                              "admin scope (insufficient_scope, audited)"}


def _document_common_errors(paths):
    err = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    for item in paths.values():
        for method, op in item.items():
            for code, text in _COMMON.get(method, {}).items():
                op["responses"].setdefault(code, {"description": text, **err})


_SEARCH_RULE = (
    "Without any filter parameter: one page of the state's tasks in asynq's order. With any of "
    "`type`, `type_prefix`, `error`, `since`, `until`, `group` (outside state=aggregating), "
    "`retried_min`, `retried_max`, `q`, `reason` or `id` (even empty): a search. It scans the whole state in "
    "bounded chunks (Redis is never blocked), `total` counts the matches, `page`/`page_size` page through "
    "them, `scanned` says how many tasks were looked at and `complete` is false if the time budget ran out "
    "first. Filters combine (AND). Masking rule: without the reveal right on the queue "
    "(payload_viewer, admin), `error` and `q` only match what the masked task shows (a masked card "
    "number, e-mail address or token never matches, so a search cannot confirm it); with it they match "
    "the raw values. Tasks are always returned masked."
)
_FILTER_PARAMS = [
    {"name": "type", "in": "query", "schema": {"type": "string"}, "description": "Task type, exact (or a prefix "
     "with type_prefix=1)."},
    {"name": "type_prefix", "in": "query", "schema": {"type": "string", "enum": ["1", "0", "true", "false"]}},
    {"name": "error", "in": "query", "schema": {"type": "string"},
     "description": "Substring of the last error, case-insensitive (masked error unless you may reveal)."},
    {"name": "since", "in": "query", "schema": {"type": "string"}, "description": "Inclusive: a date (YYYY-MM-DD) "
     "or ISO 8601 time (naive = UTC); compared with last_failed_at (completed: completed_at, scheduled: "
     "next_process_at)."},
    {"name": "until", "in": "query", "schema": {"type": "string"},
     "description": "Exclusive ISO 8601 time, or a date (that day included)."},
    {"name": "retried_min", "in": "query", "schema": {"type": "integer", "minimum": 0}},
    {"name": "retried_max", "in": "query", "schema": {"type": "integer", "minimum": 0}},
    {"name": "q", "in": "query", "schema": {"type": "string"}, "description": "Payload search `field=value`: "
     "the JSON payload's value at the dotted path (`customer.email`, `items.0.sku`) equals value (numbers, "
     "booleans and null as JSON text). Masked payload unless you may reveal. Without `=`: a task id "
     "(as `id`)."},
    {"name": "reason", "in": "query", "schema": {"type": "string"}, "description": "The masked, normalised "
     "error of a failure group (see /failures); empty selects tasks without an error."},
    {"name": "id", "in": "query", "schema": {"type": "string"}, "description": "A task id, exact (any "
     "characters; an id that is not UTF-8 text as `~b64:<base64 of its bytes>`). The task is looked up, not "
     "scanned for: it matches if it is in `state` and meets the other filters (`scanned` is 1)."},
]
_FAILURE_GROUP = {
    "type": "object",
    "properties": {
        "type": {"type": "string"},
        "reason": {"type": "string", "description": "The error with numbers, ids, hex, addresses and quoted "
                                                    "values replaced by placeholders; masked."},
        "example_error": _SENSITIVE,
        "count": {"type": "integer"},
        "first_seen": _TIME,
        "last_seen": _TIME,
        "url": {"type": "string", "format": "uri", "description": "The tasks API filtered to this group."},
    },
}


def _responses(ok_schema):
    err = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    return {
        "200": {"description": "OK", "content": {"application/json": {"schema": ok_schema}}},
        "401": {"description": "Not authenticated", **err},
        "404": {"description": "No such queue or task (or not visible to you)", **err},
        "503": {"description": "asynq's Redis is unreachable", **err},
    }


def _name_param(name, what):
    return {
        "name": name, "in": "path", "required": True, "schema": {"type": "string"},
        "description": f"The {what}, as it appears in the URLs this API returns; follow those links "
                       "rather than building paths ('/' is written '~2F', '~' as '~7E', NUL and bytes "
                       "that are not UTF-8 as '~XX'; a very long queue name as '~h' + the sha256 of its "
                       "bytes).",
    }


def schema(server_url):
    ref = lambda n: {"$ref": f"#/components/schemas/{n}"}  # noqa: E731
    doc = {
        "openapi": "3.1.0",
        "info": {"title": "dlqadmin API", "version": "1"},
        "servers": [{"url": server_url}],
        "security": [{"bearer": []}, {"session": []}],
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer",
                           "description": "Token from `python manage.py create_api_token USERNAME "
                                          "[--scope read|operate|admin] [--expires-in 90d]`. Scope read: GET "
                                          "only; operate: also actions (POST); admin: also DELETE of a queue. "
                                          "Never more than the user's roles. Rate limited per token (429)."},
                "session": {"type": "apiKey", "in": "cookie", "name": "sessionid"},
            },
            "schemas": {"QueueInfo": _QUEUE_INFO, "TaskInfo": _TASK_INFO, "Error": _ERROR,
                        "FailureGroup": _FAILURE_GROUP},
        },
        "paths": {
            "/queues": {"get": {
                "summary": "Queues you may see, with per-state counts",
                "responses": _responses({"type": "object", "properties": {
                    "queues": {"type": "array", "items": ref("QueueInfo")}}}),
            }},
            "/queues/{queue}/": {"get": {
                "summary": "One queue",
                "parameters": [_name_param("queue", "queue name")],
                "responses": _responses(ref("QueueInfo")),
            }, "delete": {
                "summary": "Delete the queue (admins, with a token of the admin scope; asynq's DeleteQueue; audited)",
                "description": "Without force, only a queue with no pending, active, scheduled, retry or archived "
                               "task (completed and aggregating tasks do not count); with force=true those tasks "
                               "are deleted too, but never while a task is active. A refusal is 409 with asynq's "
                               "reason and changes nothing.",
                "parameters": [_name_param("queue", "queue name"),
                               {"name": "force", "in": "query", "schema": {"type": "boolean", "default": False}}],
                "responses": {**_responses(ref("ActionResult")),
                              "400": {"description": "Bad parameter", "content": {"application/json": {
                                  "schema": ref("Error")}}},
                              "403": {"description": "Admins only (audited)", "content": {"application/json": {
                                  "schema": ref("Error")}}},
                              "409": {"description": "Not empty (or active tasks with force): asynq's reason",
                                      "content": {"application/json": {"schema": ref("ActionResult")}}}},
            }},
            "/queues/{queue}/tasks": {"get": {
                "summary": "A page of tasks in one state, in asynq's order",
                "parameters": [
                    _name_param("queue", "queue name"),
                    {"name": "state", "in": "query", "schema": {"type": "string", "enum": _STATES,
                                                                 "default": "archived"}},
                    {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1, "default": 1}},
                    {"name": "page_size", "in": "query",
                     "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}},
                    {"name": "order", "in": "query", "schema": {"type": "string", "enum": ["oldest", "newest"],
                                                                 "default": "oldest"},
                     "description": "oldest: asynq's order (lists oldest first, sets by ascending score); "
                                    "newest: the reverse (the DLQ newest death first). Read in that order "
                                    "by Redis, one page at a time."},
                    {"name": "group", "in": "query", "schema": {"type": "string"},
                     "description": "Required with state=aggregating (the group to list); in other states a "
                                    "filter on the task's group."},
                    *_FILTER_PARAMS,
                ],
                "description": _SEARCH_RULE,
                "responses": {**_responses({"type": "object", "properties": {
                    "tasks": {"type": "array", "items": ref("TaskInfo")},
                    "total": {"type": "integer", "description": "Tasks in the state, or matches of a search."},
                    "page": {"type": "integer"},
                    "page_size": {"type": "integer"},
                    "scanned": {"type": "integer", "description": "Search only: tasks looked at."},
                    "complete": {"type": "boolean", "description": "Search only: the whole state was scanned."}}}),
                    "409": {"description": "This state's key has the wrong Redis type (the queue is damaged)",
                            "content": {"application/json": {"schema": ref("Error")}}},
                    "400": {"description": "Bad parameter", "content": {"application/json": {
                        "schema": ref("Error")}}}},
            }},
            "/queues/{queue}/failures": {"get": {
                "summary": "Top failure reasons: the state's tasks grouped by type and masked, normalised error",
                "description": "Biggest groups first (at most 50); computed by a bounded scan and cached "
                               "for 30 seconds. Reasons and example errors are masked for everyone.",
                "parameters": [
                    _name_param("queue", "queue name"),
                    {"name": "state", "in": "query", "schema": {"type": "string", "default": "archived",
                                                                 "enum": [s for s in _STATES if s != "aggregating"]}},
                ],
                "responses": {**_responses({"type": "object", "properties": {
                    "state": {"type": "string"},
                    "groups": {"type": "array", "items": ref("FailureGroup")}}}),
                    "409": {"description": "This state's key has the wrong Redis type (the queue is damaged)",
                            "content": {"application/json": {"schema": ref("Error")}}},
                    "400": {"description": "Bad parameter", "content": {"application/json": {
                        "schema": ref("Error")}}}},
            }},
            "/queues/{queue}/tasks/{task_id}/": {"get": {
                "summary": "One task",
                "parameters": [_name_param("queue", "queue name"), _name_param("task_id", "task id")],
                "responses": _responses(ref("TaskInfo")),
            }},
            "/queues/{queue}/tasks/{task_id}/reveal": {"post": {
                "summary": "Reveal one task's raw data (payload_viewer or admin; audited with the reason)",
                "parameters": [_name_param("queue", "queue name"), _name_param("task_id", "task id")],
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["reason"],
                    "properties": {"reason": {"type": "string", "minLength": 10},
                                   "ticket": {"type": "string", "maxLength": 200}}}}}},
                "responses": {**_responses({"allOf": [ref("TaskInfo"), {"type": "object", "properties": {
                    "expires_at": {"type": "string", "format": "date-time"}}}]}),
                    "400": {"description": "No or too short a reason", "content": {"application/json": {
                        "schema": ref("Error")}}},
                    "403": {"description": "No reveal right on this queue (audited)", "content": {
                        "application/json": {"schema": ref("Error")}}}},
            }},
        },
    }
    doc["components"]["schemas"].update(ActionResult=_ACTION_RESULT, Operation=_OPERATION,
                                        AuditEvent=_AUDIT_EVENT, VaultEntry=_VAULT_ENTRY)
    doc["paths"].update(_action_paths(ref))
    doc["paths"]["/audit"] = _audit_path(ref)
    doc["components"]["schemas"].update(_INFRA_SCHEMAS)
    doc["paths"].update(_infra_paths(ref))
    doc["paths"].update(_vault_paths(ref))
    doc["paths"]["/openapi.json"] = {"get": {
        "summary": "This document (no sign-in needed)", "security": [],
        "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}},
                      "400": {"description": "A NUL character in a parameter"},
                      "405": {"description": "Method not allowed"}}}}
    _document_common_errors({p: item for p, item in doc["paths"].items() if p != "/openapi.json"})
    return doc


# --- The audit log (dlqadmin.audit.views.api_events) -------------------------------------------

_AUDIT_EVENT = {
    "type": "object",
    "description": "One row of the append-only, hash-chained audit log.",
    "properties": {
        "seq": {"type": "integer", "description": "Position in the chain (1, 2, ...)."},
        "time": {"type": "string", "format": "date-time"},
        "actor": {"type": "object", "properties": {"id": {"type": ["integer", "null"]},
                                                   "name": {"type": "string"}}},
        "action": {"type": "string", "description": "e.g. task.run, task.reveal, policy.save, access.denied"},
        "queue": {"type": "string"}, "task_id": {"type": "string"}, "target": {"type": "string"},
        "reason": {"type": "string"}, "outcome": {"type": "string"}, "message": {"type": "string"},
        "request_id": {"type": "string"}, "ip": {"type": ["string", "null"]}, "user_agent": {"type": "string"},
        "detail": {"type": "object"},
        "prev_hash": {"type": "string"}, "hash": {"type": "string"},
    },
}


def _audit_path(ref):
    text = lambda name, what: {"name": name, "in": "query", "schema": {"type": "string", "maxLength": 500},  # noqa: E731
                               "description": what}
    row = {"type": "integer", "minimum": 1}
    return {"get": {
        "summary": "Audit events, newest first (auditor or admin)",
        "description": "Pages by row number: follow `next` for older events and `newer` for newer ones.",
        "parameters": [
            text("actor", "User name (exact)."), text("action", "Action name (exact)."),
            text("queue", "Queue name (exact)."), text("task_id", "Task id (exact)."),
            {"name": "outcome", "in": "query", "schema": {"type": "string"}, "description": "Outcome (exact)."},
            text("since", "A date (YYYY-MM-DD) or ISO 8601 time, inclusive."),
            text("until", "A date (through its end) or ISO 8601 time, exclusive."),
            {"name": "q", "in": "query", "schema": {"type": "string", "minLength": 3, "maxLength": 500},
             "description": "Text search over message, reason, target and detail."},
            {"name": "before", "in": "query", "schema": row, "description": "Only events older than this seq."},
            {"name": "after", "in": "query", "schema": row, "description": "Only events newer than this seq."},
            {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 200,
                                                         "default": 50}},
        ],
        "responses": {**_responses({"type": "object", "properties": {
            "events": {"type": "array", "items": ref("AuditEvent")},
            "next": {"type": ["string", "null"], "format": "uri"},
            "newer": {"type": ["string", "null"], "format": "uri"}}}),
            "400": {"description": "Bad filter", "content": {"application/json": {"schema": ref("Error")}}},
            "403": {"description": "Needs the auditor or admin role (audited)",
                    "content": {"application/json": {"schema": ref("Error")}}}},
    }}


# --- Triage actions (dlqadmin.operations.api_views) ------------------------------------------

_ACTION_RESULT = {
    "type": "object",
    "description": "What one action did. 200 when done; 404 when the task no longer exists; 409 when it "
                   "changed state meanwhile or its state does not allow the action (nothing was changed).",
    "properties": {
        "ok": {"type": "boolean"},
        "outcome": {"type": "string", "enum": ["done", "not_found", "queue_not_found", "wrong_state", "changed",
                                               "broken", "no_server", "queue_not_empty"]},
        "state": {"type": ["string", "null"], "description": "The task's (or queue's) state afterwards, if known."},
        "message": {"type": "string"},
        "error": {"type": "string", "description": "The outcome, when not ok."},
    },
}
_OPERATION = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "url": {"type": "string", "format": "uri"},
        "status": {"type": "string", "enum": ["queued", "running", "paused", "done", "cancelled", "failed"]},
        "action": {"type": "string", "enum": ["run", "delete", "archive", "cancel", "vault_run", "vault_purge",
                                              "orphan_scan", "orphan_capture", "orphan_delete"],
                   "description": "vault_run / vault_purge: redrive / purge vault entries (failures name "
                                  "vault entry ids)."},
        "queue": {"type": "string"},
        "state": {"type": ["string", "null"], "description": "The state acted on (\"vault\" for the vault)."},
        "filter": {"type": "object", "description": "The search parameters ({} = every task of the state)."},
        "rate": {"type": ["integer", "null"], "description": "Tasks per second; null = unlimited."},
        "total": {"type": "integer"}, "done": {"type": "integer"}, "failed": {"type": "integer"},
        "started_by": {"type": "string"},
        "created_at": _TIME, "started_at": _TIME, "finished_at": _TIME,
        "last_error": {"type": ["string", "null"]},
        "failures": {"type": "array", "description": "Ids not done, and why (first 1,000).", "items": {
            "type": "object", "properties": {"id": {"type": "string"}, "outcome": {"type": "string"},
                                             "state": {"type": ["string", "null"]}}}},
    },
}


def _action_paths(ref):
    q, t = _name_param("queue", "queue name"), _name_param("task_id", "task id")
    err = {"content": {"application/json": {"schema": ref("Error")}}}
    json_body = lambda schema: {"required": False, "content": {"application/json": {"schema": schema}}}  # noqa: E731
    state_body = json_body({"type": "object", "properties": {"state": {
        "type": "string", "enum": _STATES,
        "description": "Only if the task is still in this state (what you saw); else 409 changed."}}})

    def post(summary, params, body, ok, *, extra=None, description=None):
        responses = {**_responses(ok), "400": {"description": "Bad request", **err},
                     "403": {"description": "You may see the queue but lack the operator right (audited)", **err},
                     "409": {"description": "The task changed state meanwhile, or the action does not apply",
                             "content": {"application/json": {"schema": ref("ActionResult")}}}}
        responses.update(extra or {})
        op = {"summary": summary, "parameters": params, "responses": responses}
        if body:
            op["requestBody"] = body
        if description:
            op["description"] = description
        return {"post": op}

    task_ops = {
        "run": "Run now (archived, retry, scheduled, completed, aggregating -> pending)",
        "delete": "Delete (discard) a task that is not active",
        "archive": "Archive (pending, scheduled, retry, completed, aggregating)",
        "retry-fresh": "Run now with a fresh retry budget (retried reset to 0)",
    }
    paths = {f"/queues/{{queue}}/tasks/{{task_id}}/{name}": post(summary, [q, t], state_body, ref("ActionResult"))
             for name, summary in task_ops.items()}
    paths["/queues/{queue}/tasks/{task_id}/cancel"] = post(
        "Cancel an active task (asynq's cancel channel; best effort)", [q, t], None, ref("ActionResult"))
    paths["/queues/{queue}/tasks/{task_id}/edit"] = post(
        "Edit an archived task's payload, then run it (operator + payload_viewer)", [q, t],
        {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "required": ["payload", "reason"], "properties": {
                "payload": {"description": "The new payload: a JSON value, or a string used as is. Must be "
                                           "valid JSON when the original is."},
                "reason": {"type": "string", "minLength": 10},
                "version": {"type": "string", "description": "sha256 (hex) of the task's msg you edited; "
                                                             "409 if it changed since."}}}}}},
        ref("ActionResult"),
        description="Written and moved to pending in one atomic step, only if the task did not change "
                    "meanwhile (compare-and-set). The audit log keeps a masked diff.")
    paths["/queues/{queue}/pause"] = post("Pause the queue", [q], None, ref("ActionResult"))
    paths["/queues/{queue}/resume"] = post("Resume the queue", [q], None, ref("ActionResult"))
    paths["/queues/{queue}/batch"] = post(
        "Run / delete / archive selected tasks, or cancel active ones, now, with a result per id", [q],
        {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "required": ["action", "ids"], "properties": {
                "action": {"type": "string", "enum": ["run", "delete", "archive", "cancel"],
                           "description": "cancel: active tasks only (asynq's cancel channel, best effort); "
                                          "an id no asynq server received is `no_server`, not done."},
                "ids": {"type": "array", "items": {"type": "string", "minLength": 1, "maxLength": 1000},
                        "minItems": 1, "maxItems": 1000,
                        "description": "Checked as a whole first: any invalid id and nothing is done (400)."},
                "state": {"type": "string", "enum": _STATES,
                          "description": "Only ids still in this state (others: changed)."}}}}}},
        {"type": "object", "properties": {
            "operation": {"type": "string", "format": "uri", "description": "Kept per-id detail."},
            "done": {"type": "integer"}, "failed": {"type": "integer"},
            "results": {"type": "array", "items": {"allOf": [ref("ActionResult"), {
                "type": "object", "properties": {"id": {"type": "string"}}}]}}}})
    paths["/queues/{queue}/bulk"] = post(
        "Start a tracked operation on every task of a state, or every task matching a search", [q],
        {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "required": ["action", "state"], "properties": {
                "action": {"type": "string", "enum": ["run", "delete", "archive"]},
                "state": {"type": "string", "enum": _STATES},
                "group": {"type": "string", "description": "Required with state=aggregating."},
                "filter": {"type": "object", "description": "Search parameters as for GET tasks (type, error, "
                                                            "since, until, retried_min, retried_max, q, ...)."},
                "rate": {"type": "integer", "minimum": 1, "description": "Tasks per second."},
                "reason": {"type": "string"}}}}}},
        ref("Operation"),
        extra={"202": {"description": "Queued; follow `url`",
                       "content": {"application/json": {"schema": ref("Operation")}}}},
        description="Carried out in the background by `run_scheduler` (or `run_operations`) in chunks "
                    "that each keep Redis busy for a few milliseconds; pausable, cancellable, resumable.")
    paths["/operations"] = {"get": {
        "summary": "Tracked operations on queues you may view, newest first",
        "parameters": [
            {"name": "queue", "in": "query", "schema": {"type": "string"}},
            {"name": "status", "in": "query", "schema": {"type": "string", "enum": [
                "queued", "running", "paused", "done", "cancelled", "failed"]}},
            {"name": "started_by", "in": "query", "schema": {"type": "string"}, "description": "A user name."},
            {"name": "before", "in": "query", "schema": {"type": "integer", "minimum": 1},
             "description": "Only operations with a smaller id (follow `next`)."},
            {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 200,
                                                         "default": 50}},
        ],
        "responses": {**_responses({"type": "object", "properties": {
            "operations": {"type": "array", "items": ref("Operation")},
            "next": {"type": ["string", "null"], "format": "uri"}}}),
            "400": {"description": "Bad filter", "content": {"application/json": {"schema": ref("Error")}}}},
    }}
    paths["/operations/{op_id}/"] = {"get": {
        "summary": "A bulk or batch operation: status and counts",
        "parameters": [{"name": "op_id", "in": "path", "required": True, "schema": {"type": "integer"}}],
        "responses": _responses(ref("Operation"))}}
    paths["/operations/{op_id}/cancel"] = post(
        "Cancel an operation (between two chunks; tasks already handled stay handled)",
        [{"name": "op_id", "in": "path", "required": True, "schema": {"type": "integer"}}], None, ref("Operation"))
    return paths


# --- Servers, scheduler, Redis, groups, history (dlqadmin.api.infra_views) ------------------------

_NAME_RULE = ("Queue names as your grants allow: every name with an all-queues grant or a global role; "
              "otherwise the queues granted to you, and only a count of the others.")
_INFRA_SCHEMAS = {
    "Server": {"type": "object", "properties": {
        "id": {"type": "string"}, "host": {"type": "string"}, "pid": {"type": "integer"},
        "concurrency": {"type": "integer"}, "strict_priority": {"type": "boolean"}, "status": {"type": "string"},
        "started": _TIME,
        "queues": {"type": "array", "description": "Highest priority first. " + _NAME_RULE, "items": {
            "type": "object", "properties": {"queue": {"type": "string"}, "priority": {"type": "integer"}}}},
        "other_queues": {"type": "integer", "description": "Queues served whose names are withheld from you."},
        "active_workers": {"type": "array", "description": "On queues you may view.", "items": {
            "type": "object", "properties": {
                "task_id": {"type": "string"}, "task_type": {"type": "string"}, "queue": {"type": "string"},
                "task_url": {"type": "string", "format": "uri"}, "started": _TIME, "deadline": _TIME,
                "payload": _SENSITIVE}}}}},
    "SchedulerEntry": {"type": "object", "properties": {
        "id": {"type": "string"}, "url": {"type": "string", "format": "uri"},
        "events_url": {"type": "string", "format": "uri"}, "spec": {"type": "string"},
        "task_type": {"type": "string"}, "queue": {"type": "string"},
        "opts": {"type": "array", "items": {"type": "string"}, "description": "Masked."},
        "payload": _SENSITIVE, "next": _TIME, "prev": _TIME,
        "events_kept": {"type": "integer", "description": "Enqueue events asynq keeps for the entry."}}},
}


def _infra_paths(ref):
    entry = _name_param("entry_id", "scheduler entry id")
    queue = _name_param("queue", "queue name")
    err = lambda what: {"description": what, "content": {"application/json": {"schema": ref("Error")}}}  # noqa: E731
    whole = lambda n: {"type": "integer", "minimum": 1, **n}  # noqa: E731
    return {
        "/servers": {"get": {
            "summary": "Running asynq servers, the queues each serves, and their active workers (masked)",
            "description": _NAME_RULE,
            "responses": _responses({"type": "object", "properties": {
                "servers": {"type": "array", "items": ref("Server")}}}),
        }},
        "/scheduler": {"get": {
            "summary": "Scheduler entries of running schedulers",
            "description": "Entries for queues whose names you may not read are only counted.",
            "responses": _responses({"type": "object", "properties": {
                "entries": {"type": "array", "items": ref("SchedulerEntry")},
                "other_entries": {"type": "integer"}}}),
        }},
        "/scheduler/{entry_id}/": {"get": {
            "summary": "One scheduler entry", "parameters": [entry],
            "responses": _responses(ref("SchedulerEntry")),
        }},
        "/scheduler/{entry_id}/events": {"get": {
            "summary": "The entry's enqueue events, newest first",
            "parameters": [entry,
                           {"name": "page", "in": "query", "schema": whole({"default": 1})},
                           {"name": "page_size", "in": "query", "schema": whole({"maximum": 100, "default": 20})}],
            "responses": {**_responses({"type": "object", "properties": {
                "events": {"type": "array", "items": {"type": "object", "properties": {
                    "task_id": {"type": "string"}, "task_url": {"type": "string", "format": "uri"},
                    "enqueued_at": _TIME}}},
                "total": {"type": "integer"}, "page": {"type": "integer"}, "page_size": {"type": "integer"}}}),
                "400": err("Bad parameter (a page past the last is one)")},
        }},
        "/queues/{queue}/groups": {"get": {
            "summary": "The queue's aggregation groups with their sizes", "parameters": [queue],
            "responses": _responses({"type": "object", "properties": {"groups": {"type": "array", "items": {
                "type": "object", "properties": {"group": {"type": "string"}, "size": {"type": "integer"},
                                                 "tasks_url": {"type": "string", "format": "uri"}}}}}}),
        }},
        "/queues/{queue}/history": {"get": {
            "summary": "Processed and failed counts per UTC day, newest first (asynq's daily stats)",
            "parameters": [queue, {"name": "days", "in": "query", "schema": whole({"maximum": 90, "default": 7})}],
            "responses": {**_responses({"type": "object", "properties": {
                "queue": {"type": "string"},
                "days": {"type": "array", "items": {"type": "object", "properties": {
                    "date": {"type": "string", "format": "date"}, "processed": {"type": "integer"},
                    "failed": {"type": "integer"}}}}}}),
                "400": err("Bad parameter")},
        }},
        "/redis": {"get": {
            "summary": "asynq's Redis: version, mode, memory, clients; every node of a cluster (admins only)",
            "responses": {**_responses({"type": "object", "properties": {
                "mode": {"type": "string", "enum": ["standalone", "cluster"]}, "version": {"type": "string"},
                "used_memory": {"type": "integer"}, "connected_clients": {"type": "integer"},
                "nodes": {"type": "array", "items": {"type": "object", "properties": {
                    "address": {"type": ["string", "null"]}, "role": {"type": "string"},
                    "version": {"type": "string"}, "used_memory": {"type": "integer"},
                    "connected_clients": {"type": "integer"}, "uptime_seconds": {"type": "integer"}}}}}}),
                "403": err("Admins only (audited)")},
        }},
    }


# --- The dead-task vault (dlqadmin.vault.api_views) ----------------------------------------

_VAULT_STATUSES = ["in_asynq", "trimmed", "left", "redriven", "purged"]
_MASKED_TEXT = {"type": "object", "properties": {"masked": {"type": "boolean", "const": True},
                                                 "value": {"type": "string"}}}
_VAULT_ENTRY = {
    "type": "object",
    "description": "One death captured by the vault (a task that dies again is a new entry).",
    "properties": {
        "id": {"type": "integer"},
        "url": {"type": "string", "format": "uri", "description": "This entry's API URL; ends in '/'."},
        "queue": {"type": "string"},
        "task_id": {"type": "string"},
        "task_url": {"type": "string", "format": "uri", "description": "The live task's URL (404 once gone)."},
        "type": {"type": "string"},
        "status": {"type": "string", "enum": _VAULT_STATUSES},
        "left_state": {"type": ["string", "null"], "description": "left: the state it was seen in (or deleted)."},
        "archived_at": _TIME, "captured_at": _TIME, "status_changed_at": _TIME, "redriven_at": _TIME,
        "retried": {"type": "integer"}, "max_retry": {"type": "integer"},
        "size": {"type": "integer", "description": "Bytes of the task message."},
        "sha256": {"type": "string"},
        "damaged": {"type": ["string", "null"]},
        "last_err": {**_MASKED_TEXT, "description": "Lists: the masked error search runs over."},
        "payload_preview": {**_MASKED_TEXT, "description": "Lists: the masked payload preview."},
        "task": {"$ref": "#/components/schemas/TaskInfo",
                 "description": "One entry: the death presented like a task (masked unless revealed)."},
        "history": {"type": "array", "description": "One entry: every death of this task in the queue.",
                    "items": {"type": "object"}},
    },
}


def _vault_paths(ref):
    q = _name_param("queue", "queue name")
    pk = {"name": "pk", "in": "path", "required": True, "schema": {"type": "integer"}}
    err = {"content": {"application/json": {"schema": ref("Error")}}}
    status = {"name": "status", "in": "query", "schema": {"type": "string", "enum": _VAULT_STATUSES}}
    extra = [{"name": n, "in": "query", "schema": {"type": "string"}, "description": d} for n, d in (
        ("task_id", "exact task id"), ("payload", "substring of the masked payload preview"),
        ("before", "page: the `next` link's cursor (<score>:<id>)"))]
    limit = {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 200,
                                                         "default": 50}}
    return {
        "/queues/{queue}/vault": {"get": {
            "summary": "Vaulted deaths of a queue, newest first (search in Postgres over masked values)",
            "description": "The task filters (type, type_prefix, error, since, until, retried_min, "
                           "retried_max, q) plus status, task_id and payload. Everything searched was "
                           "masked when captured: a value masking hides is found by nobody.",
            "parameters": [q, *[p for p in _FILTER_PARAMS if p["name"] not in ("group", "reason")], status,
                           *extra, limit],
            "responses": {**_responses({"type": "object", "properties": {
                "entries": {"type": "array", "items": ref("VaultEntry")},
                "total": {"type": "integer"}, "total_capped": {"type": "boolean"},
                "next": {"type": ["string", "null"], "format": "uri"},
                "summary": {"type": "object", "description": "captured, lost, lag_seconds, last_pass_at, "
                                                             "by_status"}}}),
                "400": {"description": "Bad parameter", **err}}}},
        "/queues/{queue}/vault/{pk}/": {"get": {
            "summary": "One vaulted death, presented like a task, with the task's history",
            "parameters": [q, pk], "responses": _responses(ref("VaultEntry"))}},
        "/queues/{queue}/vault/{pk}/run": {"post": {
            "summary": "Redrive this death into asynq as asynq's Enqueue does (operator)",
            "description": "409 `live` when a task with this id exists in asynq (any state): nothing changed.",
            "parameters": [q, pk],
            "responses": {**_responses(ref("ActionResult")),
                          "403": {"description": "No operator right (audited)", **err},
                          "409": {"description": "Refused: live in asynq, purged or damaged",
                                  "content": {"application/json": {"schema": ref("ActionResult")}}}}}},
        "/queues/{queue}/vault/bulk": {"post": {
            "summary": "Redrive (operator) or purge (admin) every vaulted death matching a filter",
            "parameters": [q],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["action"], "properties": {
                    "action": {"type": "string", "enum": ["run", "purge"]},
                    "filter": {"type": "object", "description": "Parameters as for GET vault."},
                    "reason": {"type": "string"}}}}}},
            "responses": {"202": {"description": "Queued; follow `url`",
                                  "content": {"application/json": {"schema": ref("Operation")}}},
                          "400": {"description": "Bad request", **err},
                          "403": {"description": "Lacks the right (audited)", **err}}}},
    }
