"""python manage.py export_policies [--format yaml|json] [-o FILE]"""

import json

import yaml
from django.core.management.base import BaseCommand

from dlqadmin.policies.services import export_policies


class Command(BaseCommand):
    help = "Write every policy (and channel names/kinds, never their secrets) as YAML or JSON."

    def add_arguments(self, parser):
        parser.add_argument("--format", choices=["yaml", "json"], default="yaml")
        parser.add_argument("-o", "--output", help="file to write (default: stdout)")

    def handle(self, *args, format, output, **options):
        doc = export_policies()
        if format == "json":
            text = json.dumps(doc, indent=2, sort_keys=False) + "\n"
        else:
            text = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)
        if output:
            with open(output, "w", encoding="utf-8") as fh:
                fh.write(text)
        else:
            self.stdout.write(text, ending="")
