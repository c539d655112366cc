//! An API client's onboarding record as stored (layout 1: a version byte, then postcard).

use super::{corrupt, tagged, unknown};
use booking::StoreError;
use serde::{Deserialize, Serialize};

const CLIENT_V1: u8 = 1;

type RateV1 = Option<(u32, u32)>;

/// Token endpoint, client id, key file, algorithm, key id, scope.
type PrivateKeyJwtV1 = (String, String, String, String, Option<String>, Option<String>);

#[derive(Serialize, Deserialize)]
struct ClientV1 {
    client_id: String,
    profiles: Option<Vec<String>>,
    max_live_bookings: Option<u32>,
    /// create, read, delete, retrieve: (per second, burst).
    rates: [RateV1; 4],
    sinks: Option<Vec<String>>,
    private_key_jwt: Option<PrivateKeyJwtV1>,
}

/// An onboarding record as stored.
pub fn encode_client(r: &booking::ClientRecord) -> Result<Vec<u8>, StoreError> {
    let rate = |r: Option<booking::ClientRate>| r.map(|r| (r.per_second, r.burst));
    tagged(
        CLIENT_V1,
        &ClientV1 {
            client_id: r.client_id.clone(),
            profiles: r.profiles.clone(),
            max_live_bookings: r.max_live_bookings,
            rates: [
                rate(r.rates.create),
                rate(r.rates.read),
                rate(r.rates.delete),
                rate(r.rates.retrieve),
            ],
            sinks: r.sinks.clone(),
            private_key_jwt: r.private_key_jwt.as_ref().map(|p| {
                (
                    p.token_endpoint.clone(),
                    p.client_id.clone(),
                    p.key_file.clone(),
                    p.algorithm.clone(),
                    p.key_id.clone(),
                    p.scope.clone(),
                )
            }),
        },
    )
}

/// A stored onboarding record.
pub fn decode_client(bytes: &[u8]) -> Result<booking::ClientRecord, StoreError> {
    match bytes.first() {
        Some(&CLIENT_V1) => {
            let r: ClientV1 =
                postcard::from_bytes(&bytes[1..]).map_err(|e| StoreError::corrupt("unreadable client record", e))?;
            let rate = |r: RateV1| r.map(|(per_second, burst)| booking::ClientRate { per_second, burst });
            let [create, read, delete, retrieve] = r.rates;
            Ok(booking::ClientRecord {
                client_id: r.client_id,
                profiles: r.profiles,
                max_live_bookings: r.max_live_bookings,
                rates: booking::ClientRates {
                    create: rate(create),
                    read: rate(read),
                    delete: rate(delete),
                    retrieve: rate(retrieve),
                },
                sinks: r.sinks,
                private_key_jwt: r.private_key_jwt.map(
                    |(token_endpoint, client_id, key_file, algorithm, key_id, scope)| booking::PrivateKeyJwt {
                        token_endpoint,
                        client_id,
                        key_file,
                        algorithm,
                        key_id,
                        scope,
                    },
                ),
            })
        }
        Some(&tag) => Err(unknown("client record layout", tag)),
        None => Err(corrupt("empty client record".into())),
    }
}
