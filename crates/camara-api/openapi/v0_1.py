"""Writes the r1.2 shape of QoS Booking (qos-booking 0.1.0, `/qos-booking/v0.1`) from the
vwip file, by the differences CAMARA's release notes list (../shared/docs/camara-qos-booking.md,
section (i)): `status` instead of `bookingStatus`, AVAILABLE/UNAVAILABLE instead of
ACTIVATED/TERMINATED, three statusInfo values, PLAIN/ACCESSTOKEN/REFRESHTOKEN credentials, no
QOS_PROFILE_NOT_APPLICABLE, no length limits, the r1.2 schema names. The published file itself
is not reachable from the build machines; this reconstruction is what the gateway serves and
is tested against. Usage: v0_1.py IN OUT"""
import pathlib
import sys

import yaml

doc = yaml.safe_load(pathlib.Path(sys.argv[1]).read_text())
s = doc["components"]["schemas"]

doc["info"]["version"] = "0.1.0"
doc["info"]["x-camara-commonalities"] = "0.6"
doc["info"]["description"] = doc["info"]["description"].replace(
    "- If the requested `qosProfile` exists but is currently not available for creating a booking, then the server will return an error with the `422 QOS_BOOKING.QOS_PROFILE_NOT_APPLICABLE` error code.\n",
    "",
)
doc["servers"][0]["url"] = "{apiRoot}/qos-booking/v0.1"


def strip_limits(node):
    """r1.2 had no maxLength on strings and no maxItems on arrays."""
    if isinstance(node, dict):
        for k in ("maxLength", "maxItems"):
            node.pop(k, None)
        for v in node.values():
            strip_limits(v)
    elif isinstance(node, list):
        for v in node:
            strip_limits(v)


strip_limits(s)
# `duration`: minimum 1 only.
for name in ("BookingInfo", "CreateBooking"):
    for part in s[name]["allOf"]:
        d = part.get("properties", {}).get("duration")
        if d:
            d.pop("maximum", None)

# The status: `status` of type Status (REQUESTED, SCHEDULED, AVAILABLE, UNAVAILABLE).
info = s["BookingInfo"]["allOf"][1]
props = info["properties"]
props["status"] = {"$ref": "#/components/schemas/Status"}
del props["bookingStatus"]
info["required"] = ["status" if r == "bookingStatus" else r for r in info["required"]]
s["Status"] = {
    "description": "The current status of the requested QoS Booking. The status can be one of the following:\n"
    "* `REQUESTED` - QoS booking has been requested but is still being processed.\n"
    "* `SCHEDULED` - QoS booking has been granted for a future start time.\n"
    "* `AVAILABLE` - The requested QoS booking is in effect for the device.\n"
    "* `UNAVAILABLE` - The requested QoS booking has been completed, deleted or declined, and is no longer active.\n",
    "type": "string",
    "enum": ["REQUESTED", "SCHEDULED", "AVAILABLE", "UNAVAILABLE"],
}
s["StatusChanged"] = {
    "description": "Status change values for notification events.",
    "type": "string",
    "enum": ["SCHEDULED", "AVAILABLE", "UNAVAILABLE"],
}
s["StatusInfo"] = {
    "description": "Reason for the new `status`.\n"
    "* `DURATION_EXPIRED` - Session terminated due to requested duration expired\n"
    "* `NETWORK_TERMINATED` - Network terminated the QoS Booking\n"
    "* `DELETE_REQUESTED`- User requested the deletion of the QoS Booking\n",
    "type": "string",
    "enum": ["DURATION_EXPIRED", "NETWORK_TERMINATED", "DELETE_REQUESTED"],
}
for old in ("BookingStatus", "BookingStatusChanged", "BookingStatusInfo"):
    del s[old]
props["statusInfo"] = {"$ref": "#/components/schemas/StatusInfo"}

event = s["EventStatusChanged"]["allOf"][1]["properties"]["data"]
event["required"] = ["bookingId", "status"]
event["properties"] = {
    "bookingId": {"$ref": "#/components/schemas/BookingId"},
    "status": {"$ref": "#/components/schemas/StatusChanged"},
    "statusInfo": {"$ref": "#/components/schemas/StatusInfo"},
}

# Sink credentials of r1.2: PLAIN, ACCESSTOKEN, REFRESHTOKEN.
cred = s["SinkCredential"]
cred["properties"]["credentialType"]["enum"] = ["PLAIN", "ACCESSTOKEN", "REFRESHTOKEN"]
cred["properties"]["credentialType"]["description"] = "The type of the credential. Note: Type of the credential - MUST be set to ACCESSTOKEN for now"
cred["discriminator"]["mapping"] = {
    "PLAIN": "#/components/schemas/PlainCredential",
    "ACCESSTOKEN": "#/components/schemas/AccessTokenCredential",
    "REFRESHTOKEN": "#/components/schemas/RefreshTokenCredential",
}
del s["PrivateKeyJWTCredential"]
s["RefreshTokenCredential"] = {
    "type": "object",
    "description": "An access token credential with a refresh token.",
    "allOf": [
        {"$ref": "#/components/schemas/SinkCredential"},
        {
            "type": "object",
            "properties": {
                "accessToken": {"description": "REQUIRED. An access token is a token granting access to the target resource.", "type": "string"},
                "accessTokenExpiresUtc": {"type": "string", "format": "date-time", "description": "REQUIRED. An absolute UTC instant at which the access token shall be considered expired."},
                "accessTokenType": {"description": "REQUIRED. Type of the access token.", "type": "string", "enum": ["bearer"]},
                "refreshToken": {"description": "REQUIRED. An refresh token credential used to acquire access tokens.", "type": "string"},
                "refreshTokenEndpoint": {"type": "string", "format": "uri", "description": "REQUIRED. A URL at which the refresh token can be traded for an access token."},
            },
            "required": ["accessToken", "accessTokenExpiresUtc", "accessTokenType", "refreshToken", "refreshTokenEndpoint"],
        },
    ],
}

# No QOS_PROFILE_NOT_APPLICABLE in r1.2.
r422 = doc["components"]["responses"]["BookingUnprocessableEntity422"]["content"]["application/json"]
for part in r422["schema"]["allOf"]:
    code = part.get("properties", {}).get("code")
    if code and "enum" in code:
        code["enum"] = [c for c in code["enum"] if c != "QOS_BOOKING.QOS_PROFILE_NOT_APPLICABLE"]
r422["examples"].pop("QOS_BOOKING_422_QOS_PROFILE_NOT_APPLICABLE", None)

text = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=120)
# The examples: the r1.2 names and values.
for a, b in (("bookingStatus: ACTIVATED", "status: AVAILABLE"), ("bookingStatus: TERMINATED", "status: UNAVAILABLE"),
             ("bookingStatus: SCHEDULED", "status: SCHEDULED"), ("bookingStatus", "status"),
             ("`ACTIVATED`", "`AVAILABLE`"), ("`TERMINATED`", "`UNAVAILABLE`"), ('"ACTIVATED"', '"AVAILABLE"'),
             ('"TERMINATED"', '"UNAVAILABLE"'), ("to TERMINATED", "to UNAVAILABLE")):
    text = text.replace(a, b)
pathlib.Path(sys.argv[2]).write_text(
    "# Generated by v0_1.py from qos-booking.yaml (vwip): the r1.2 shape, qos-booking 0.1.0.\n" + text
)
