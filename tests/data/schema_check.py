#!/usr/bin/env python3
"""Validates topology and inventory files against topologies/schema/ with
python3-jsonschema (draft 2020-12), for tests/t_schema.c.

    schema_check.py ROOT [FILE...]

Without FILEs it checks every shipped file (topologies/*.json,
topologies/hosts/*.json) and every JSON fixture under tests/ outside
tests/data/schema-bad/.  A file is an inventory when its top level has
"hosts" or its name starts with "inv-", else a topology.  Prints one line
per file, "valid KIND PATH" or "invalid KIND PATH: why", and exits 0; 2
when a schema itself is broken or jsonschema is missing.
"""
import glob
import json
import os
import sys

try:
    import jsonschema
except ImportError:
    print("schema_check: python3-jsonschema is missing", file=sys.stderr)
    sys.exit(2)


def kind_of(path, doc):
    if os.path.basename(path).startswith("inv-"):
        return "inventory"
    if isinstance(doc, dict) and "hosts" in doc:
        return "inventory"
    return "topology"


def discover(root):
    files = sorted(glob.glob(os.path.join(root, "topologies", "*.json")))
    files += sorted(glob.glob(os.path.join(root, "topologies", "hosts",
                                           "*.json")))
    bad = os.path.join(root, "tests", "data", "schema-bad") + os.sep
    for f in sorted(glob.glob(os.path.join(root, "tests", "**", "*.json"),
                              recursive=True)):
        if not f.startswith(bad):
            files.append(f)
    return files


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    root = sys.argv[1]
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
    for path in sys.argv[2:] or discover(root):
        try:
            with open(path, encoding="utf-8") as f:
                doc = json.load(f)
        except (OSError, ValueError) as e:
            print("invalid topology %s: %s" % (path, e))
            continue
        kind = kind_of(path, doc)
        errors = sorted(validators[kind].iter_errors(doc),
                        key=lambda e: list(e.absolute_path))
        if errors:
            where = "/".join(str(p) for p in errors[0].absolute_path)
            print("invalid %s %s: /%s: %s" % (kind, path, where,
                                              errors[0].message))
        else:
            print("valid %s %s" % (kind, path))
    return 0


if __name__ == "__main__":
    sys.exit(main())
