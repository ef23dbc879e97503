"""``gitberth convert``: a docker compose file in, a gitberth app manifest out.

:mod:`compose_file` reads the YAML safely (anchors and merge keys expanded under a cap),
:mod:`mapping` turns it into a manifest with one service per compose service, noting every key
it could not carry over, and :mod:`render` writes the manifest and the report. All of it is
pure; the command in :mod:`gitberth.cli.convert_commands` reads and writes the files.
"""
