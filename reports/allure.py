"""The Allure HTML report from ``allure-results``: find an Allure command line and run it.

Allure is not a Python package: it is either an ``allure`` on PATH (Allure 2, a Java program, or Allure 3
installed by npm) or the npm package ``allure`` (Allure 3) run by ``npx`` on Node.js 20+. Measured on the
2-core reference machine (busy): the first ``npx --yes allure@3`` fetches it (about 15 s); after that it
starts from npm's cache in about 2.5 s, and writes the single-file report of 63 cases in about 5 s.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

NPM_PACKAGE = "allure@3"  # Allure 3's command line; major version pinned so the options stay the same

HOW_TO_GET = (
    "获取 Allure 的方法 · how to get Allure:\n"
    "  • Node.js 20+ 已安装时：yidi 自动使用 npx --yes allure@3（首次需要访问 npm 仓库）\n"
    "    with Node.js 20+ yidi runs `npx --yes allure@3` itself (the first run needs the npm registry);\n"
    "    Debian/Ubuntu: apt-get install -y nodejs npm\n"
    "  • 或全局安装 or install it: npm install -g allure  (Allure 3)\n"
    "  • 或 Allure 2 (Java): https://allurereport.org/docs/install/ — then `allure` on PATH\n"
    "certification.json 与 report.html 不依赖 Allure。 The certification report itself does not need Allure."
)


@dataclass(frozen=True)
class Cli:
    """An Allure command line: how to start it and which major version it is."""

    argv: tuple[str, ...]
    major: int

    def generate(self, results: Path, out: Path, name: str) -> list[str]:
        """One HTML file (opens from disk like report.html), titled ``name``."""
        if self.major == 2:  # Allure 2.21+; it refuses an existing folder without --clean
            return [*self.argv, "generate", str(results), "-o", str(out), "--clean", "--single-file"]
        return [
            *self.argv,
            "awesome",  # Allure 3's report plugin; ``generate`` would write a folder that needs a server
            str(results),
            "-o",
            str(out),
            "--single-file",
            "--report-name",
            name,
            "--lang",
            "zh",
        ]


@dataclass(frozen=True)
class Generated:
    ok: bool
    seconds: float
    command: list[str]
    output: str  # what the command printed (its last lines when it failed)


def find() -> Cli | None:
    """The Allure command line there is: ``allure`` on PATH first, else Allure 3 through npx."""
    allure = shutil.which("allure")
    if allure:
        major = _major((allure,))
        if major:
            return Cli((allure,), major)
    npx = shutil.which("npx")
    if npx:  # not probed: asking its version would cost a registry round trip; generate says if it fails
        return Cli((npx, "--yes", NPM_PACKAGE), 3)
    return None


def generate(
    cli: Cli, results: Path, out: Path, *, name: str = "yidi 联调测试", timeout: float = 300.0
) -> Generated:
    """Render ``results`` into ``out`` (a previous Allure report there is replaced)."""
    if (out / "index.html").is_file():
        shutil.rmtree(out)
    command = cli.generate(results, out, name)
    started = time.perf_counter()
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        return Generated(False, time.perf_counter() - started, command, str(e))
    index = out / "index.html"
    ok = done.returncode == 0 and index.is_file()
    if ok:
        offline(index)
    return Generated(ok, time.perf_counter() - started, command, _quiet(done.stdout + done.stderr))


# Allure 3's report loads Google Analytics when opened; a certification report phones no third party.
ANALYTICS = re.compile(
    r"<script[^>]*googletagmanager\.com[^>]*>\s*</script>\s*(<script>\s*window\.dataLayer.*?</script>)?",
    re.DOTALL,
)


def offline(index: Path) -> None:
    """Remove the analytics script from a generated Allure page."""
    html = index.read_text(encoding="utf-8")
    cleaned = ANALYTICS.sub("", html)
    if cleaned != html:
        index.write_text(cleaned, encoding="utf-8")


def _major(argv: tuple[str, ...], timeout: float = 60.0) -> int:
    """The major version ``argv --version`` reports; 0 when it does not run."""
    try:
        done = subprocess.run(
            [*argv, "--version"], capture_output=True, text=True, timeout=timeout, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return 0
    found = re.search(r"\b(\d+)\.\d+", done.stdout)
    return int(found.group(1)) if done.returncode == 0 and found else 0


def _quiet(text: str) -> str:
    """What the command printed, less npm's warnings about the user's own npm configuration."""
    lines = [x for x in text.splitlines() if x.strip() and not x.startswith("npm warn")]
    return "\n".join(lines[-15:])
