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
                       "rather than building paths ('/' is written '~2F' and '~' as '~7E').",
    }


def schema(server_url):
    ref = lambda n: {"$ref": f"#/components/schemas/{n}"}  # noqa: E731
    return {
        "openapi": "3.1.0",
        "info": {"title": "dlqadmin API", "version": "1"},
        "servers": [{"url": server_url}],
        "security": [{"bearer": []}, {"session": []}],
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer",
                           "description": "Token from `python manage.py create_api_token USERNAME`."},
                "session": {"type": "apiKey", "in": "cookie", "name": "sessionid"},
            },
            "schemas": {"QueueInfo": _QUEUE_INFO, "TaskInfo": _TASK_INFO, "Error": _ERROR},
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
                    {"name": "group", "in": "query", "schema": {"type": "string"},
                     "description": "Required with state=aggregating."},
                ],
                "responses": {**_responses({"type": "object", "properties": {
                    "tasks": {"type": "array", "items": ref("TaskInfo")},
                    "total": {"type": "integer"}, "page": {"type": "integer"},
                    "page_size": {"type": "integer"}}}),
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
