from django.core.management.base import BaseCommand, CommandError

from dlqadmin.audit.verify import parse_anchor, verify_database, verify_file


class Command(BaseCommand):
    help = ("Re-hash the whole audit log and check every link of its chain. Exits 0 and prints the number "
            "of rows verified, or exits 1 naming the first broken row.")

    def add_arguments(self, parser):
        parser.add_argument("--after", metavar="SEQ:HASH",
                            help="rows up to SEQ were archived away; the chain must resume after it")
        parser.add_argument("--expect", metavar="SEQ:HASH",
                            help="a head printed by an earlier run and kept elsewhere: it must still be there")
        parser.add_argument("--file", metavar="EXPORT.json",
                            help="verify an unfiltered JSON export instead of the database")

    def handle(self, *args, after=None, expect=None, file=None, **options):
        try:
            after = parse_anchor(after) if after else None
            expect = parse_anchor(expect) if expect else None
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        if file:
            result = verify_file(file, expect=expect)
        else:
            result = verify_database(after=after, expect=expect)
        if not result.ok:
            raise CommandError(f"Audit log BROKEN at row #{result.broken_seq}: {result.problem} "
                               f"({result.count} rows before it verified).", returncode=1)
        if result.count:
            self.stdout.write(f"Audit log OK: {result.count} rows verified (#{result.first_seq}–#{result.last_seq}). "
                              f"Head {result.last_seq}:{result.last_hash}")
        else:
            self.stdout.write("Audit log OK: 0 rows verified (the log is empty).")
