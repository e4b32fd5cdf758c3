"""Certification reports (issue 4): ``certification.json`` signed by its issuer and the self-contained
``report.html`` beside the JUnit XML and Allure results a ``yidi certify`` run leaves in its folder.

    paths = yidi.reports.write(document, out_dir)   # {"json": …/certification.json, "html": …/report.html}

``yidi report DIR`` renders them again (and the Allure report); ``yidi report verify FILE --issuer-key KEY``
checks the signature with the issuer's public key (``yidi report key`` prints it).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..suites.document import contradictions
from . import evidence
from .issuer import Issuer
from .issuer import load as load_issuer

JSON_NAME, HTML_NAME = "certification.json", "report.html"


def write(document: Mapping[str, Any], out_dir: Path, issuer: Issuer | None = None) -> dict[str, Path]:
    """Sign the document as ``issuer`` (default: this machine's, issuer.py) and write it with its HTML
    report into ``out_dir``.

    A document whose verdict or counts contradict its own cases is refused (ValueError): a certificate
    must never say PASS over a failed mandatory case.
    """
    wrong = contradictions(document)
    if wrong:
        raise ValueError("certification document is inconsistent: " + "; ".join(wrong))
    signer = issuer or load_issuer()
    sealed = evidence.sign(document, signer.name, signer.key)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"json": out_dir / JSON_NAME, "html": out_dir / HTML_NAME}
    paths["json"].write_text(json.dumps(sealed, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    write_html(sealed, paths["html"])
    return paths


def write_html(document: Mapping[str, Any], path: Path) -> Path:
    from .html import render  # jinja2 is loaded only when a page is drawn

    path.write_text(render(document), encoding="utf-8")
    return path


def read(path: Path) -> dict[str, Any]:
    """A certification document from its JSON file."""
    doc: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return doc
