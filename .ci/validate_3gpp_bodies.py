#!/usr/bin/env python3
"""Validates every JSON body in a directory against a 3GPP schema, resolving the YAML files'
cross-file $refs: the NEF's AsSessionWithQoSSubscription (`nef DIR`), the PCF's N5
AppSessionContext (`n5 DIR`), the CHF's ChargingDataRequest (`chf DIR`), all Rel-17, or the
Rel-18 PDTQ negotiation's Pdtq (`pdtq DIR`) and PdtqPatch (`pdtq-patch DIR`). Independent of
the Rust code, so the gateway and its
simulators cannot agree on a mistake. Exits 1 on any violation, and also when there is
nothing to check or a known-bad body passes (a vacuous check is a failure)."""
import json
import pathlib
import sys

import yaml
from jsonschema import Draft4Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

OPENAPI = pathlib.Path(__file__).resolve().parent.parent / "crates/nef/openapi"
REL17, REL18 = OPENAPI / "3gpp", OPENAPI / "3gpp-rel18"
# What each southbound sends: the schema, and a body it must refuse.
KINDS = {
    "nef": (
        "TS29122_AsSessionWithQoS.yaml",
        "AsSessionWithQoSSubscription",
        {"notificationDestination": 5, "flowInfo": [{"flowDescriptions": "permit"}], "snssai": {"sst": 300}},
    ),
    "n5": (
        "TS29514_Npcf_PolicyAuthorization.yaml",
        "AppSessionContext",
        # Two UE addresses (the oneOf), a suppFeat that is not hex, a BitRate without unit.
        {"ascReqData": {"notifUri": "http://x/cb", "suppFeat": "10000", "ueIpv4": "10.0.0.1", "ueIpv6": "2001:db8::1",
                        "medComponents": {"1": {"medCompN": 1, "marBwDl": "120000000"}}}},
    ),
    "chf": (
        "TS32291_Nchf_ConvergedCharging.yaml",
        "ChargingDataRequest",
        # No nfConsumerIdentification, a negative sequence number, a rating group as text.
        {"invocationTimeStamp": "2030-01-01T12:00:00Z", "invocationSequenceNumber": -1,
         "multipleUnitUsage": [{"ratingGroup": "100"}]},
    ),
    "pdtq": (
        "TS29522_PDTQPolicyNegotiation.yaml",
        "Pdtq",
        # Both QoS forms (the oneOf), a time window without stopTime, a polygon without points.
        {"aspId": "a", "numberOfUEs": 1, "qosReference": "q", "qosParamSet": {},
         "desTimeInts": [{"startTime": "2030-01-01T12:00:00Z"}],
         "locationArea5G": {"geographicAreas": [{"shape": "POLYGON"}]}},
    ),
    "pdtq-patch": (
        "TS29522_PDTQPolicyNegotiation.yaml",
        "PdtqPatch",
        {"selectedPolicy": "1", "warnNotifEnabled": "yes"},
    ),
}
RELEASE = {"pdtq": REL18, "pdtq-patch": REL18}


def openapi_to_jsonschema(node):
    """OpenAPI 3.0 `nullable: true` becomes a JSON Schema type union with null."""
    if isinstance(node, dict):
        out = {k: openapi_to_jsonschema(v) for k, v in node.items()}
        if out.pop("nullable", False) and "type" in out:
            out["type"] = [out["type"], "null"]
        return out
    if isinstance(node, list):
        return [openapi_to_jsonschema(v) for v in node]
    return node


def retriever(spec_dir):
    def retrieve(uri):
        name = uri.split("/")[-1]
        with open(spec_dir / name, encoding="utf-8") as f:
            doc = openapi_to_jsonschema(yaml.safe_load(f))
        return Resource.from_contents(doc, default_specification=DRAFT4)
    return retrieve


def validator(root, name, spec_dir):
    registry = Registry(retrieve=retriever(spec_dir))
    schema = {"$ref": f"{root}#/components/schemas/{name}"}
    return Draft4Validator(schema, registry=registry)


def main(kind, directory):
    root, name, bad_control = KINDS[kind]
    spec_dir = RELEASE.get(kind, REL17)
    v = validator(root, name, spec_dir)
    if not list(v.iter_errors(bad_control)):
        print("validator accepted a known-bad body: the check is broken")
        return 1
    files = sorted(pathlib.Path(directory).glob("*.json"))
    if not files:
        print(f"no bodies in {directory}: nothing was checked")
        return 1
    failures = 0
    for f in files:
        body = json.loads(f.read_text())
        errors = list(v.iter_errors(body))
        for e in errors:
            print(f"{f.name}: {'/'.join(map(str, e.absolute_path))}: {e.message}")
        failures += len(errors)
        print(f"{f.name}: {'OK' if not errors else 'INVALID'}")
    print(f"{len(files)} bodies checked against {root} {name} ({spec_dir.name}), {failures} violations")
    return 1 if failures else 0


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in KINDS:
        sys.exit(f"usage: {sys.argv[0]} {'|'.join(KINDS)} DIRECTORY")
    sys.exit(main(sys.argv[1], sys.argv[2]))
