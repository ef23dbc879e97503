"""``gitberth-askpass``: the helper Git and ssh run to ask for a credential.

Git (``GIT_ASKPASS``) and ssh (``SSH_ASKPASS``) run it with the prompt as its only argument and
read the answer from its stdout. The answer comes from files in a private directory of the
RAM-backed secrets directory that gitberth writes just before one Git command and removes right
after it (``GITBERTH_ASKPASS_DIR`` names it). So a credential never appears in an argument
list, in the environment of any process, or on disk.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

DIRECTORY_ENV = "GITBERTH_ASKPASS_DIR"
USERNAME_FILE = "username"
PASSWORD_FILE = "password"


def answer_file(prompt: str) -> str | None:
    """Which file answers *prompt*: the user name, the password (or key passphrase), or none
    (a yes/no question, such as ssh asking to trust an unknown host key, is answered "no")."""
    lowered = prompt.lower()
    if "yes/no" in lowered:
        return None
    if lowered.startswith("username"):
        return USERNAME_FILE
    return PASSWORD_FILE


def main() -> None:
    directory = os.environ.get(DIRECTORY_ENV)
    prompt = sys.argv[1] if len(sys.argv) > 1 else ""
    name = answer_file(prompt)
    if not directory or name is None:
        sys.stdout.write("no\n" if name is None else "")
        sys.exit(0 if name is None else 1)
    try:
        value = (Path(directory) / name).read_text(encoding="utf-8")
    except OSError:
        sys.exit(1)
    sys.stdout.write(value + "\n")


if __name__ == "__main__":
    main()
