#!/usr/bin/env python3
"""Validates topology and inventory files against topologies/schema/ with
python3-jsonschema (draft 2020-12), for tests/t_schema.c.

    schema_check.py ROOT FILLDIR

Checks every shipped file (topologies/*.json, topologies/hosts/*.json,
group "shipped") and every JSON file under tests/: those of
tests/data/schema-good/ ("good") and tests/data/schema-bad/ ("bad"),
and the other fixtures ("fixture", some of them mistakes on purpose).
A fixture's placeholders (@KEY@, tests/fixture.h) are filled first, a
quoted one with text and any other with a number (a port, a rate), and
the filled copy is written to FILLDIR and checked instead.  A file is an
inventory when its top level has "hosts" or its name starts with "inv-"
or ends with "-inv.json", else a topology.  Prints one line per file,
"valid KIND GROUP PATH" or "invalid KIND GROUP PATH: why", and exits 0;
2 when a schema itself is broken or jsonschema is missing.
"""
import glob
import json
import os
import re
import sys

try:
    import jsonschema
except ImportError:
    print("schema_check: python3-jsonschema is missing", file=sys.stderr)
    sys.exit(2)

PLACEHOLDER = re.compile(r'("?)@([A-Z][A-Z0-9_]*)@("?)')


def kind_of(path, doc):
    name = os.path.basename(path)
    if name.startswith("inv-") or name.endswith("-inv.json"):
        return "inventory"
    if isinstance(doc, dict) and "hosts" in doc:
        return "inventory"
    return "topology"


def discover(root):
    """(group, path) of every file to check."""
    files = [("shipped", f) for f in
             sorted(glob.glob(os.path.join(root, "topologies", "*.json"))) +
             sorted(glob.glob(os.path.join(root, "topologies", "hosts",
                                           "*.json")))]
    data = os.path.join(root, "tests", "data")
    for f in sorted(glob.glob(os.path.join(root, "tests", "**", "*.json"),
                              recursive=True)):
        if f.startswith(os.path.join(data, "schema-good") + os.sep):
            files.append(("good", f))
        elif f.startswith(os.path.join(data, "schema-bad") + os.sep):
            files.append(("bad", f))
        else:
            files.append(("fixture", f))
    return files


def fill(root, path, text, filldir):
    """The text with its placeholders filled, written to filldir; the
    path to check."""
    numbers = {}

    def value(m):
        if m.group(1) and m.group(3):
            return '"placeholder"'
        number = numbers.setdefault(m.group(2), 20000 + len(numbers))
        return "%s%d%s" % (m.group(1), number, m.group(3))

    filled = PLACEHOLDER.sub(value, text)
    if filled == text:
        return path
    rel = os.path.relpath(path, root).replace(os.sep, "_")
    out = os.path.join(filldir, rel)
    with open(out, "w", encoding="utf-8") as f:
        f.write(filled)
    return out


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    root, filldir = sys.argv[1], sys.argv[2]
    validators = {}
    for kind in ("topology", "inventory"):
        path = os.path.join(root, "topologies", "schema",
                            kind + ".schema.json")
        with open(path, encoding="utf-8") as f:
            schema = json.load(f)
        try:
            jsonschema.Draft202012Validator.check_schema(schema)
        except jsonschema.SchemaError as e:
            print("schema_check: %s: %s" % (path, e.message),
                  file=sys.stderr)
            return 2
        validators[kind] = jsonschema.Draft202012Validator(schema)
    for group, path in discover(root):
        with open(path, encoding="utf-8") as f:
            text = f.read()
        if group == "fixture":
            path = fill(root, path, text, filldir)
            with open(path, encoding="utf-8") as f:
                text = f.read()
        try:
            doc = json.loads(text)
        except ValueError as e:
            print("invalid topology %s %s: %s" % (group, path, e))
            continue
        kind = kind_of(path, doc)
        errors = sorted(validators[kind].iter_errors(doc),
                        key=lambda e: list(e.absolute_path))
        if errors:
            where = "/".join(str(p) for p in errors[0].absolute_path)
            print("invalid %s %s %s: /%s: %s" % (kind, group, path, where,
                                                 errors[0].message))
        else:
            print("valid %s %s %s" % (kind, group, path))
    return 0


if __name__ == "__main__":
    sys.exit(main())
