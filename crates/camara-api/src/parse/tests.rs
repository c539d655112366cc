use super::*;
use booking::RejectionKind as K;
use serde_json::json;
use time::macros::datetime;

const NOW: OffsetDateTime = datetime!(2030-01-01 00:00 UTC);

fn opts() -> ParseOptions {
    ParseOptions {
        strict: true,
        area_types: AreaTypes {
            circle: true,
            polygon: true,
            area_name: true,
        },
        area_names: vec!["stadium".into()],
        sink: SinkPolicy {
            allow_insecure: false,
            ..SinkPolicy::permissive(std::sync::Arc::new(NoNames))
        },
    }
}

/// Parsing never resolves names (that is the route's asynchronous step).
struct NoNames;

impl booking::SinkResolver for NoNames {
    fn resolve(&self, host: String, _port: u16) -> booking::sink::BoxedResolve {
        Box::pin(async move { Err(std::io::Error::other(format!("{host}: not resolved in parse tests"))) })
    }
}

/// A booking created from `fields` (a qosProfile and a duration are added), as the service
/// would schedule it; for the echo tests of `wire`.
pub(crate) fn booking(fields: &Value) -> booking::Booking {
    let mut body = json!({"qosProfile": "QOS_L", "duration": 600});
    if let (Some(b), Some(f)) = (body.as_object_mut(), fields.as_object()) {
        b.extend(f.clone());
    }
    let nb = create_booking(&body, NOW, &opts()).unwrap();
    let owner = booking::Owner {
        client_id: "c".into(),
        subject: None,
    };
    let device = nb.device.clone().unwrap_or_default();
    booking::Booking::schedule(booking::BookingId::new(), owner, device, nb, NOW)
}

/// The echoed fields as the response shows them.
fn echo_of(nb: &NewBooking) -> Map<String, Value> {
    let owner = booking::Owner {
        client_id: "c".into(),
        subject: None,
    };
    let device = nb.device.clone().unwrap_or_default();
    let b = booking::Booking::schedule(booking::BookingId::new(), owner, device, nb.clone(), NOW);
    crate::wire::Echoed::read(&b).into_map()
}

fn base() -> Value {
    json!({
        "qosProfile": "QOS_L",
        "device": {"phoneNumber": "+123456789"},
        "startTime": "2030-01-02T10:00:00+02:00",
        "duration": 600,
        "serviceArea": {"areaType": "CIRCLE", "center": {"latitude": 50.0, "longitude": 8.0}, "radius": 100}
    })
}

fn kind_of(body: Value) -> K {
    match create_booking(&body, NOW, &opts()) {
        Ok(_) => panic!("accepted: {body}"),
        Err(r) => r.kind,
    }
}

fn with(path: &str, v: Value) -> Value {
    let mut b = base();
    b[path] = v;
    b
}

#[test]
fn base_is_valid_and_keeps_the_offset_in_the_echo() {
    let nb = create_booking(&base(), NOW, &opts()).unwrap();
    assert_eq!(echo_of(&nb)["startTime"], json!("2030-01-02T10:00:00+02:00"));
    assert_eq!(nb.start_time, datetime!(2030-01-02 08:00 UTC));
    assert_eq!(echo_of(&nb)["device"], json!({"phoneNumber": "+123456789"}));
}

#[test]
fn schema_violations_are_invalid_argument() {
    assert_eq!(kind_of(json!([])), K::InvalidArgument);
    assert_eq!(kind_of(json!({})), K::InvalidArgument);
    assert_eq!(kind_of(with("unknown", json!(1))), K::InvalidArgument);
    assert_eq!(kind_of(with("qosProfile", json!("a b c"))), K::InvalidArgument);
    assert_eq!(
        kind_of(with("startTime", json!("2030-01-02T10:00:00"))),
        K::InvalidArgument
    );
    assert_eq!(kind_of(with("duration", json!(10.5))), K::InvalidArgument);
    assert_eq!(kind_of(with("device", json!({}))), K::InvalidArgument);
    assert_eq!(
        kind_of(with("device", json!({"ipv4Address": {"publicAddress": "1.2.3.4"}}))),
        K::InvalidArgument
    );
    assert_eq!(kind_of(with("applicationServer", json!({}))), K::InvalidArgument);
    assert_eq!(
        kind_of(with("applicationServer", json!({"ipv4Address": "1.2.3.4/33"}))),
        K::InvalidArgument
    );
    assert_eq!(kind_of(with("devicePorts", json!({}))), K::InvalidArgument);
    let mut b = base();
    b.as_object_mut().unwrap().remove("serviceArea");
    assert_eq!(kind_of(b), K::InvalidArgument);
    assert_eq!(
        kind_of(with("serviceArea", json!({"areaType": "SQUARE"}))),
        K::InvalidArgument
    );
}

#[test]
fn ranges_are_out_of_range() {
    assert_eq!(kind_of(with("duration", json!(0))), K::OutOfRange);
    assert_eq!(kind_of(with("duration", json!(31_622_401))), K::OutOfRange);
    assert_eq!(kind_of(with("devicePorts", json!({"ports": [65536]}))), K::OutOfRange);
    assert_eq!(
        kind_of(with("devicePorts", json!({"ranges": [{"from": 10, "to": 5}]}))),
        K::OutOfRange
    );
}

#[test]
fn sinks_and_credentials() {
    assert_eq!(kind_of(with("sink", json!("http://example.com/cb"))), K::InvalidSink);
    assert_eq!(kind_of(with("sink", json!("https://127.0.0.1/cb"))), K::InvalidSink);
    assert_eq!(kind_of(with("sink", json!("https://10.1.2.3/cb"))), K::InvalidSink);
    assert_eq!(
        kind_of(with("sink", json!("https://169.254.169.254/latest"))),
        K::InvalidSink
    );
    assert_eq!(kind_of(with("sink", json!("https://[::1]/cb"))), K::InvalidSink);
    assert_eq!(kind_of(with("sink", json!("https://localhost/cb"))), K::InvalidSink);
    assert_eq!(
        kind_of(with("sink", json!(format!("https://e.com/{}", "a".repeat(2048))))),
        K::InvalidSink
    );
    let cred = |v: Value| with("sinkCredential", v);
    assert_eq!(
        kind_of(cred(
            json!({"credentialType": "PLAIN", "identifier": "a", "secret": "b"})
        )),
        K::InvalidCredential
    );
    assert_eq!(
        kind_of(cred(json!({"credentialType": "REFRESHTOKEN"}))),
        K::InvalidCredential
    );
    assert_eq!(
        kind_of(cred(json!({"credentialType": "PRIVATE_KEY_JWT"}))),
        K::InvalidCredential
    );
    let token = |ty: &str, exp: &str| json!({"credentialType": "ACCESSTOKEN", "accessToken": "t", "accessTokenType": ty, "accessTokenExpiresUtc": exp});
    assert_eq!(kind_of(cred(token("mac", "2031-01-01T00:00:00Z"))), K::InvalidToken);
    assert_eq!(kind_of(cred(token("bearer", "2029-01-01T00:00:00Z"))), K::InvalidToken);
    let ok = create_booking(
        &with("sinkCredential", token("bearer", "2031-01-01T00:00:00Z")),
        NOW,
        &opts(),
    )
    .unwrap();
    assert!(ok.sink_credential.is_some());
    assert!(!echo_of(&ok).contains_key("sinkCredential"));
}

#[test]
fn areas() {
    let area = |v: Value| with("serviceArea", v);
    assert_eq!(
        kind_of(area(
            json!({"areaType": "CIRCLE", "center": {"latitude": 50.0, "longitude": 8.0}, "radius": 0.5})
        )),
        K::InvalidArea
    );
    assert_eq!(
        kind_of(area(
            json!({"areaType": "CIRCLE", "center": {"latitude": 95.0, "longitude": 8.0}, "radius": 5})
        )),
        K::InvalidArea
    );
    assert_eq!(
        kind_of(area(json!({"areaType": "CIRCLE", "radius": 5}))),
        K::InvalidArea
    );
    assert_eq!(
        kind_of(area(
            json!({"areaType": "POLYGON", "boundary": [{"latitude": 1, "longitude": 1}]})
        )),
        K::InvalidArea
    );
    assert_eq!(
        kind_of(area(json!({"areaType": "AREANAME", "areaName": "nowhere"}))),
        K::InvalidArea
    );
    let mut o = opts();
    o.area_types.polygon = false;
    let poly = area(json!({"areaType": "POLYGON", "boundary": [{"latitude": 1, "longitude": 1}]}));
    assert_eq!(create_booking(&poly, NOW, &o).unwrap_err().kind, K::NotManagedAreaType);
    // A 400 elsewhere in the body wins over a 422 area refusal.
    let mut b = with("duration", json!(0));
    b["serviceArea"] = json!({"areaType": "CIRCLE", "radius": 5});
    assert_eq!(kind_of(b), K::OutOfRange);
}

#[test]
fn lenient_application_server_cidr() {
    let ok = with(
        "applicationServer",
        json!({"ipv4Address": "203.0.113.100/24", "ipv6Address": "2001:db8::/64"}),
    );
    assert!(create_booking(&ok, NOW, &opts()).is_ok());
}

#[test]
fn retrieve_bodies() {
    assert_eq!(retrieve_booking(&json!({}), &opts()).unwrap(), None);
    assert!(
        retrieve_booking(&json!({"device": {"phoneNumber": "+123456789"}}), &opts())
            .unwrap()
            .is_some()
    );
    assert_eq!(
        retrieve_booking(&json!({"x": 1}), &opts()).unwrap_err().kind,
        K::InvalidArgument
    );
    assert_eq!(
        retrieve_booking(&json!({"device": {}}), &opts()).unwrap_err().kind,
        K::InvalidArgument
    );
}
