#!/usr/bin/env python3
"""Django's command-line utility for dlqadmin."""
import os
import sys


def main():
    if sys.version_info < (3, 12):
        sys.exit("dlqadmin needs Python 3.12 or newer (Django 6.1).")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dlqadmin.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
