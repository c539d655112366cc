"""Bundles a CAMARA OpenAPI file: every `../common/<file>#/components/<kind>/<name>` reference is
copied into the file's own components (recursively) and rewritten as a local reference, so
that tools without external-reference support (schemathesis, the gateway's /openapi.yaml)
read one file. Usage: bundle.py IN OUT"""
import copy
import pathlib
import sys

import yaml

src = pathlib.Path(sys.argv[1])
doc = yaml.safe_load(src.read_text())
commons = {}


def common(file):
    if file not in commons:
        commons[file] = yaml.safe_load((src.parent / file).read_text())
    return commons[file]


def walk(node, origin):
    """Rewrites refs in `node`; `origin` is the file whose local refs `#/...` mean."""
    if isinstance(node, dict):
        for k, v in list(node.items()):
            if k == "$ref" and isinstance(v, str):
                file, _, pointer = v.partition("#")
                target_file = file or origin
                if target_file is None:
                    continue
                parts = pointer.strip("/").split("/")
                assert parts[0] == "components", v
                kind, name = parts[1], parts[2]
                local = doc.setdefault("components", {}).setdefault(kind, {})
                if name not in local:
                    local[name] = copy.deepcopy(common(target_file)["components"][kind][name])
                    walk(local[name], target_file)
                node[k] = f"#/components/{kind}/{name}"
            else:
                walk(v, origin)
    elif isinstance(node, list):
        for x in node:
            walk(x, origin)


# A component that only points at the common file's component of the same name becomes
# that component (else it would end up pointing at itself).
for kind, entries in list(doc.get("components", {}).items()):
    for name, node in list(entries.items()):
        if isinstance(node, dict) and set(node) == {"$ref"} and not node["$ref"].startswith("#"):
            file, _, pointer = node["$ref"].partition("#")
            parts = pointer.strip("/").split("/")
            if parts[1:] == [kind, name]:
                entries[name] = copy.deepcopy(common(file)["components"][kind][name])
                walk(entries[name], file)

walk(doc, None)
pathlib.Path(sys.argv[2]).write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100))
