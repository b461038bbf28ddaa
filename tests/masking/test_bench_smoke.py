"""The masking benchmark's workload stays valid: its payloads mask, and every secret
it plants is masked (the benchmark itself is run by hand, see bench/README.md)."""

import importlib.util
import json
from pathlib import Path

from dlqadmin.masking.engine import Masker

BENCH = Path(__file__).resolve().parents[2] / "bench" / "bench_masking.py"


def _bench_module():
    spec = importlib.util.spec_from_file_location("bench_masking", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bench_page_masks():
    bench = _bench_module()
    payloads, errors = bench.make_page(0)
    assert len(payloads) == bench.PAGE == 100
    masker = Masker()
    for raw in payloads:
        v = masker.mask_payload(raw)
        assert v.kind == "json" and v.masked
        doc = json.loads(raw)
        for secret in (doc.get("card", {}).get("card_number"), doc.get("smtp", {}).get("password")):
            assert not secret or secret not in v.text
    assert all(masker.mask_text(e) for e in errors)
