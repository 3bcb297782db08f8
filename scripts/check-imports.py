#!/usr/bin/env python3
"""Package.swift is the real module graph: every Swift target declares exactly the package modules it imports.

SwiftPM lets a target import a module it reaches only transitively, so a missing declaration compiles until the
graph changes; a declaration nobody imports hides which way dependencies point. This compares the `import` lines of
each target's Swift files with the target's declared dependencies (`swift package dump-package`) and lists every
difference. Modules of the toolchain (Foundation, Testing, ...) are not package targets and are ignored.
Usage: scripts/check-imports.py (from anywhere; exits 1 on a difference).
"""
import json
import pathlib
import re
import subprocess
import sys

root = pathlib.Path(__file__).resolve().parent.parent
package = json.loads(subprocess.run(["swift", "package", "dump-package"], cwd=root, check=True,
                                    capture_output=True, text=True).stdout)
names = {target["name"] for target in package["targets"]}
import_line = re.compile(r"^\s*(?:@[A-Za-z_]+(?:\([^)]*\))?\s+)*import\s+(?:(?:struct|class|enum|func|var|let)\s+)?"
                         r"([A-Za-z_][A-Za-z0-9_]*)", re.MULTILINE)
problems = []
for target in package["targets"]:
    declared = set()
    for dependency in target["dependencies"]:
        for kind in ("byName", "target", "product"):
            if kind in dependency:
                declared.add(dependency[kind][0])
    default = ("Tests/" if target["type"] == "test" else "Sources/") + target["name"]
    directory = root / (target.get("path") or default)
    imported = set()
    for source in directory.rglob("*.swift"):
        imported |= {name for name in import_line.findall(source.read_text()) if name in names}
    imported.discard(target["name"])
    if target["type"] == "system" or not any(directory.rglob("*.swift")):
        continue  # C targets: their includes are not Swift imports
    for name in sorted(imported - declared):
        problems.append(f"{target['name']} imports {name} but Package.swift does not declare it")
    for name in sorted(declared - imported):
        problems.append(f"{target['name']} declares {name} but no file of it imports it")
for problem in problems:
    print("check-imports: " + problem, file=sys.stderr)
sys.exit(1 if problems else 0)
