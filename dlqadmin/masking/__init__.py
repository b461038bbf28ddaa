"""Masking of task payloads, error messages, headers and results.

``engine`` (with ``rules`` and ``detectors``) is a pure library: no Django, no I/O.
``models`` stores operator rules per queue / task type; ``selectors`` turns them into a
cached ``engine.Masker``. Views call a selector, then ``masker.mask_payload(...)`` and
friends, and hand only the resulting ``MaskedValue`` to templates.
"""
