"""Run `pip install ...` and show its progress on one line: `make run` on a fresh machine
spends a minute installing, and pip's --quiet shows nothing while its full output is hundreds
of lines. Usage: python -m tools.pip_progress "<what>" <python> -m pip install ... ; the exit
status is pip's, and pip's whole output is printed when it fails."""

from __future__ import annotations

import subprocess
import sys
import time


def main(argv: list[str]) -> int:
    what, command = argv[0], argv[1:]
    started = time.monotonic()
    interactive = sys.stdout.isatty()
    seen = 0
    output: list[str] = []
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
    ) as pip:
        assert pip.stdout is not None
        for line in pip.stdout:
            output.append(line)
            if line.startswith("Collecting ") or line.startswith("Requirement already"):
                seen += 1
                package = line.split()[1] if line.startswith("Collecting ") else ""
                if interactive:
                    sys.stdout.write(f"\r\033[K  {what}: {seen} packages ... {package}")
                    sys.stdout.flush()
                elif seen % 25 == 0:
                    print(f"  {what}: {seen} packages ...", flush=True)
    elapsed = time.monotonic() - started
    if interactive:
        sys.stdout.write("\r\033[K")
    if pip.returncode != 0:
        sys.stdout.write("".join(output))
        print(f"  {what}: pip failed ({pip.returncode})", flush=True)
        return pip.returncode
    print(f"  {what}: {seen} packages in {elapsed:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
