"""Model fields of our own: asynq names (queue names, task ids) as any bytes, stored
exactly, and date-times stamped by the application clock.

Postgres text and jsonb cannot hold NUL, and the reader's ``str`` for bytes that are
not UTF-8 holds lone surrogates (see core/names.py) that no UTF-8 column takes.
"""

import base64

from django.db import models

from . import clock, names


class NameField(models.BinaryField):
    """One name as the exact bytes (bytea); the model attribute is the reader's ``str``.
    Lookups (``filter(task_id=...)``) encode the same way, so equality is exact."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("editable", True)
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        kwargs.pop("editable", None)
        return name, path, args, kwargs

    def from_db_value(self, value, expression, connection):
        return None if value is None else names.from_raw(value)

    def to_python(self, value):
        if isinstance(value, (bytes, bytearray, memoryview)):
            return names.from_raw(value)
        return value

    def get_prep_value(self, value):
        if isinstance(value, str):
            return names.raw(value)
        return super().get_prep_value(value)


def _odd(value):
    return isinstance(value, str) and names.display(value) != value  # NUL or undecodable bytes


def encode_name_list(values):
    """JSON-ready list: names jsonb can hold stay strings; others become {"b64": ...}."""
    return [{"b64": base64.b64encode(names.raw(v)).decode()} if _odd(v) else v for v in values]


def decode_name_list(values):
    return [names.from_raw(base64.b64decode(v["b64"])) if isinstance(v, dict) and "b64" in v else v
            for v in values]


class NameListField(models.JSONField):
    """A JSON list of names (task ids), lossless for any bytes; plain names stay plain."""

    def get_prep_value(self, value):
        if isinstance(value, (list, tuple)):
            value = encode_name_list(value)
        return super().get_prep_value(value)

    def from_db_value(self, value, expression, connection):
        value = super().from_db_value(value, expression, connection)
        return decode_name_list(value) if isinstance(value, list) else value


class ClockDateTimeField(models.DateTimeField):
    """A DateTimeField whose auto_now / auto_now_add read dlqadmin.core.clock, the one
    seam tests pin, instead of Django's own call to the wall clock."""

    def pre_save(self, model_instance, add):
        if self.auto_now or (self.auto_now_add and add):
            value = clock.now()
            setattr(model_instance, self.attname, value)
            return value
        return super().pre_save(model_instance, add)
