"""Reading a PDF the way a person and a door would: its text (pdftotext) and the QR codes on
its pages, rendered (pdftoppm) and decoded (zbarimg). Debian's poppler-utils and zbar-tools,
installed by scripts/system-deps.sh."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

TOOLS = ("pdftotext", "pdftoppm", "zbarimg")
missing = [tool for tool in TOOLS if shutil.which(tool) is None]
needs_pdf_tools = pytest.mark.skipif(bool(missing), reason=f"{', '.join(missing)} not installed "
                                                           "(make system-deps: poppler-utils, zbar-tools)")


def pdf_text(content: bytes) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, "t.pdf")
        path.write_bytes(content)
        return subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True,
                              text=True).stdout


def pdf_pages(content: bytes) -> list[str]:
    return pdf_text(content).split("\f")[:-1]


def render_pages(content: bytes, directory: str | Path, dpi: int = 150) -> list[Path]:
    """Each page as a PNG, in page order."""
    directory = Path(directory)
    (directory / "t.pdf").write_bytes(content)
    subprocess.run(["pdftoppm", "-r", str(dpi), "-png", str(directory / "t.pdf"), str(directory / "page")],
                   check=True, capture_output=True)
    return sorted(directory.glob("page-*.png"))


def qr_codes(content: bytes) -> list[str]:
    """The QR code read on each page, in page order."""
    with tempfile.TemporaryDirectory() as tmp:
        found = []
        for png in render_pages(content, tmp):
            out = subprocess.run(["zbarimg", "--quiet", "--raw", "-Sdisable", "-Sqrcode.enable", str(png)],
                                 capture_output=True, text=True)
            found.append(out.stdout.strip())
        return found
