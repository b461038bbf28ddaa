"""python manage.py import_policies FILE (YAML or JSON, as written by export_policies)"""

import json

import yaml
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from dlqadmin.policies.services import import_policies


class Command(BaseCommand):
    help = "Apply a policy file: validated as a whole, each changed policy versioned and audited."

    def add_arguments(self, parser):
        parser.add_argument("file")

    def handle(self, *args, file, **options):
        try:
            with open(file, encoding="utf-8") as fh:
                text = fh.read()
        except OSError as exc:
            raise CommandError(f"cannot read {file}: {exc}") from None
        try:
            doc = json.loads(text) if file.endswith(".json") else yaml.safe_load(text)
        except (ValueError, yaml.YAMLError) as exc:
            raise CommandError(f"{file} is not valid {'JSON' if file.endswith('.json') else 'YAML'}: {exc}") from None
        try:
            summary = import_policies(doc)
        except ValidationError as exc:
            raise CommandError("import refused, nothing changed:\n  " + "\n  ".join(exc.messages)) from None
        for key in ("created", "updated", "unchanged"):
            self.stdout.write(f"{key}: {', '.join(summary[key]) or '-'}")
