#!/usr/bin/env python3
"""Writes docs/options.md, every option of every executable, from the executables themselves
(`--experimental-dump-help`, swift-argument-parser's description of a command line), so the reference cannot
drift from the code. ReleaseTests runs it with --check: a changed option without the regenerated file fails.

    scripts/options-reference.py [--bin DIR] [--check]     (DIR: .build/debug unless given)
"""
import json
import os
import re
import subprocess
import sys

EXECUTABLES = [
    ("chat-node", "A chat node. Each option also comes from the environment variable in brackets."),
    ("chat-balancer", "The front balancer. Each option also comes from the environment variable in brackets."),
    ("chat", "The terminal client."),
    ("chat-bench", "The benchmark and soak client (docs/benchmarks.md, docs/reliability.md)."),
]
HEADER = """# Options

Every option of every executable, generated from the executables by `scripts/options-reference.py` (the test
command checks it is current: change an option's help in the code, then run the script). Where an option's help
ends in `[NAME]`, the environment variable NAME sets it when the flag is absent, and a configuration file
(`--config`) when neither is there: flag, then environment, then file, then the default. Defaults are those
of a start with no environment variables set. How to choose them: docs/deploy.md, docs/security.md,
docs/balancer.md.
"""


def cell(text):
    return text.replace("|", "\\|").replace("\n", " ")


def rows(command):
    out = []
    for argument in command.get("arguments", []):
        names = [n for n in argument.get("names", []) if n["kind"] == "long"]
        if not names or names[0]["name"] in ("help", "version") or not argument.get("shouldDisplay", True):
            continue
        name = "--" + names[0]["name"]
        abstract = argument.get("abstract", "")
        match = re.search(r"\s*\[([A-Z0-9_]+)(=1)?\]$", abstract)
        variable = match.group(1) + (match.group(2) or "") if match else ""
        if match:
            abstract = abstract[: match.start()]
        default = argument.get("defaultValue", "")
        out.append("| `%s` | %s | %s | %s |" % (
            name, "`%s`" % variable if variable else "", "`%s`" % cell(default) if default != "" else "",
            cell(abstract)))
    return out


def section(command, title, about, level):
    lines = ["", "#" * level + " " + title, ""]
    if about:
        lines += [about, ""]
    table = rows(command)
    if table:
        lines += ["| Option | Environment | Default | Meaning |", "|---|---|---|---|"] + table
    for sub in command.get("subcommands", []) or []:
        if sub.get("commandName") == "help":
            continue
        lines += section(sub, "%s %s" % (title, sub["commandName"]), sub.get("abstract", ""), level + 1)
    return lines


def main():
    args = sys.argv[1:]
    check = "--check" in args
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    bin_dir = args[args.index("--bin") + 1] if "--bin" in args else os.path.join(root, ".build", "debug")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHAT_", "BALANCER_"))}
    text = HEADER
    for name, about in EXECUTABLES:
        dump = subprocess.run([os.path.join(bin_dir, name), "--experimental-dump-help"], check=True,
                              capture_output=True, text=True, env=env).stdout
        text += "\n".join(section(json.loads(dump)["command"], "`%s`" % name, about, 2)) + "\n"
    path = os.path.join(root, "docs", "options.md")
    if check:
        current = open(path).read() if os.path.exists(path) else ""
        if current != text:
            sys.exit("docs/options.md is not what the executables say: run scripts/options-reference.py")
        return
    with open(path, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
