"""The README's walkthrough as a script: its ```sh blocks, run in order by bash, each curl's
HTTP status checked against the `# -> NNN` the README writes after it (2xx where it writes
none). Used by tests/integration/test_readme_walkthrough.py; also runnable by hand against a
running `events-svc dev`: `python -m tests.walkthrough` from the checkout."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
START = "## Walkthrough with curl"
END = "## Configuration"

_BLOCK_RE = re.compile(r"^```sh\n(.*?)^```$", re.MULTILINE | re.DOTALL)
_EXPECT_RE = re.compile(r"#\s*->\s*(\d{3})\b")

#: wraps curl so that each call reports its status and the line it was called from
PRELUDE = r"""set -euo pipefail
curl() {
  local args=() prev="" found="" fmt="%{stderr}HTTP ${BASH_LINENO[0]} %{http_code}\n"
  for a in "$@"; do
    if [ "$prev" = "-w" ] || [ "$prev" = "--write-out" ]; then a="$a$fmt"; found=1; fi
    args+=("$a"); prev="$a"
  done
  [ -n "$found" ] || args+=(-w "$fmt")
  command curl "${args[@]}"
}
"""


def walkthrough_blocks(readme: str | None = None) -> list[str]:
    """The ```sh blocks of the README's walkthrough (up to Configuration), in order."""
    text = README.read_text(encoding="utf-8") if readme is None else readme
    start = text.index(START)
    section = text[start : text.index(END, start)]
    return [m.group(1) for m in _BLOCK_RE.finditer(section)]


@dataclass
class Call:
    first_line: int  #: 1-based, in the script
    last_line: int
    expected: str  #: "201", or "2xx"
    text: str


def script() -> str:
    return PRELUDE + "".join(walkthrough_blocks())


def _open_quote(text: str, state: str) -> str:
    """The quote still open at the end of `text` ("", "'" or '"'), starting in `state`."""
    escaped = False
    for char in text:
        if escaped:
            escaped = False
        elif char == "\\" and state != "'":
            escaped = True
        elif state == "" and char == "#":
            break  # a comment (good enough for the README's commands)
        elif state == "" and char in "'\"":
            state = char
        elif char == state:
            state = ""
    return state


def _logical_lines(lines: list[str]) -> list[tuple[int, int, str]]:
    """(first, last, text): commands joined across backslash-newlines and open quotes."""
    out: list[tuple[int, int, str]] = []
    i = 0
    while i < len(lines):
        first, text = i, lines[i]
        state = _open_quote(text, "")
        while (state or text.endswith("\\")) and i + 1 < len(lines):
            i += 1
            joined = lines[i]
            state = _open_quote(joined, state) if state else _open_quote(joined, "")
            text = (text[:-1] if text.endswith("\\") else text) + " " + joined
        out.append((first + 1, i + 1, text))
        i += 1
    return out


def curl_calls(source: str, *, skip_lines: int = 0) -> list[Call]:
    """Each command that runs curl (after the first `skip_lines` lines), with the status the
    README says it answers."""
    commands = [c for c in _logical_lines(source.split("\n")) if c[0] > skip_lines]
    calls: list[Call] = []
    for n, (first, last, text) in enumerate(commands):
        if text.lstrip().startswith("#"):
            continue
        code, _hash, comment = text.partition(" # ")
        if not re.search(r"(^|[\s(|;&])curl\s", code):
            continue
        expected = "2xx"
        inline = _EXPECT_RE.search(comment)
        if inline:
            expected = inline.group(1)
        else:
            for _f, _l, later in commands[n + 1 :]:
                stripped = later.strip()
                if not stripped.startswith("#"):
                    break
                found = _EXPECT_RE.match(stripped)
                if found:
                    expected = found.group(1)
                    break
        calls.append(Call(first, last, expected, text.strip()))
    return calls


def run(*, cwd: Path, env: dict[str, str], timeout: float) -> tuple[list[str], str]:
    """Run the walkthrough in `cwd`; (problems found, the output)."""
    source = script()
    path = cwd / "walkthrough.sh"
    path.write_text(source, encoding="utf-8")
    done = subprocess.run(  # noqa: S603
        ["bash", str(path)],  # noqa: S607
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    output = done.stdout + "\n--- stderr ---\n" + done.stderr
    problems: list[str] = []
    if done.returncode != 0:
        problems.append(f"the walkthrough stopped with exit status {done.returncode}")
    calls = curl_calls(source, skip_lines=PRELUDE.count("\n"))
    seen: list[tuple[int, str]] = [
        (int(m.group(1)), m.group(2))
        for m in re.finditer(r"^HTTP (\d+) (\d{3})$", done.stderr, re.MULTILINE)
    ]
    for line, status in seen:
        call = next((c for c in calls if c.first_line <= line <= c.last_line), None)
        if call is None:
            problems.append(f"line {line}: a curl the check does not know answered {status}")
            continue
        ok = status.startswith("2") if call.expected == "2xx" else status == call.expected
        if not ok:
            problems.append(
                f"line {line}: answered {status}, the README says {call.expected}: {call.text}"
            )
    missing = [c for c in calls if not any(c.first_line <= line <= c.last_line for line, _ in seen)]
    if done.returncode == 0:
        problems += [f"line {c.first_line}: never ran: {c.text}" for c in missing]
    return problems, output


if __name__ == "__main__":
    found, out = run(cwd=Path.cwd(), env=dict(os.environ), timeout=600)
    print(out)
    print("\n".join(found) or "the walkthrough answered what the README says")
    sys.exit(1 if found else 0)
